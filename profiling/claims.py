"""The papers' parameter and FLOP claims, loaded from ``profiling/claims/*.json``.

One JSON file per paper holds every figure of its tables and text that a library model can
be measured against (``claims``), plus the figures that name architectures the library does
not build (``not_audited``, with the reason), so nothing is silently dropped.

Figures keep the digits the paper printed (``"value": "0.80"``): the printed precision is
part of the claim and sets the rounding tolerance of the audit.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

from recalib.errors import ConfigError

__all__ = ["Build", "ClaimReading", "Claim", "PaperClaims", "load_papers", "paper_names",
           "UNITS", "QUALIFIERS", "RELATIVE_KINDS"]

UNITS = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "%": 1.0}
QUALIFIERS = ("=", "~", "<=", "range", "exact")
RELATIVE_KINDS = ("overhead", "ratio", "difference")


@dataclass(frozen=True)
class Build:
    """One model to build: hashable, so measurements are shared between claims."""

    arch: str
    block: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    stages: tuple[int, ...] | None = None

    @classmethod
    def of(cls, arch: str, block: str | None = None, options: Mapping[str, Any] | None = None,
           stages: Iterable[int] | None = None) -> Build:
        items = tuple(sorted((k, _hashable(v)) for k, v in (options or {}).items()))
        return cls(arch, block, items, None if stages is None else tuple(sorted(stages)))

    def with_options(self, extra: Mapping[str, Any], block: str | None = None) -> Build:
        """This build with ``extra`` options layered on (and ``block`` replaced if given)."""
        merged = {**dict(self.options), **extra}
        return Build.of(self.arch, block or self.block, merged, self.stages)

    def describe(self) -> str:
        parts = [self.arch] + ([f"+{self.block}"] if self.block else [])
        parts += [f"{k}={v}" for k, v in self.options]
        parts += [f"stages={list(self.stages)}"] if self.stages is not None else []
        return " ".join(parts)


def _hashable(value: Any) -> Any:
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


@dataclass(frozen=True)
class ClaimReading:
    """An alternative reading of an ambiguous row, named in the data file."""

    name: str
    summary: str
    options: Mapping[str, Any] = field(default_factory=dict)
    block: str | None = None


@dataclass(frozen=True)
class Claim:
    """One figure printed in a paper, and the library model it describes."""

    id: str
    paper: str
    table: str
    row: str
    build: Build
    metric: str
    value: Decimal
    unit: str
    qualifier: str = "="
    value_max: Decimal | None = None
    relative: str | None = None
    baseline: Build | None = None
    words: str = ""
    note: str = ""
    readings: tuple[ClaimReading, ...] = ()

    @property
    def printed(self) -> str:
        """The figure as the paper printed it, e.g. ``"~0.3%"`` or ``"3.86 G"``."""
        value = f"{self.value}–{self.value_max}" if self.qualifier == "range" else str(self.value)
        prefix = {"=": "", "range": "", "exact": ""}.get(self.qualifier, self.qualifier)
        return f"{prefix}{value}{self.unit if self.unit == '%' else (' ' + self.unit if self.unit else '')}"


@dataclass(frozen=True)
class PaperClaims:
    """Everything one paper's data file says."""

    paper: str
    title: str
    source: str
    preset: str | None
    counting_words: str
    claims: tuple[Claim, ...]
    not_audited: tuple[Mapping[str, Any], ...]


def paper_names() -> list[str]:
    """The papers with a claims file, sorted."""
    folder = resources.files("profiling") / "claims"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_papers(papers: Iterable[str] | None = None) -> list[PaperClaims]:
    """Parse and validate the claims files of ``papers`` (default: all)."""
    known = paper_names()
    chosen = list(papers) if papers is not None else known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ConfigError(f"no claims file for paper(s) {', '.join(unknown)}; "
                          f"choose from: {', '.join(known)}")
    return [_load_file(name) for name in chosen]


def _load_file(name: str) -> PaperClaims:
    path = resources.files("profiling") / "claims" / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"claims file {name}.json is not valid JSON ({exc}); fix the file") from None
    claims = tuple(_parse_claim(name, i, raw) for i, raw in enumerate(data["claims"]))
    ids = [c.id for c in claims]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"{name}.json: duplicate claim id(s) {', '.join(dupes)}; ids must be unique")
    return PaperClaims(data["paper"], data["title"], data["source"], data.get("preset"),
                       data.get("counting_words", ""), claims, tuple(data.get("not_audited", ())))


def _parse_claim(paper: str, index: int, raw: Mapping[str, Any]) -> Claim:
    where = f"{paper}.json claim #{index} ({raw.get('id', 'no id')})"
    missing = [k for k in ("id", "table", "row", "arch", "metric", "value", "unit") if k not in raw]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(missing)}")
    _check_choice(where, "metric", raw["metric"], ("params", "flops"))
    _check_choice(where, "unit", raw["unit"], tuple(UNITS))
    _check_choice(where, "qualifier", raw.get("qualifier", "="), QUALIFIERS)
    relative = raw.get("relative")
    if relative is not None:
        _check_choice(where, "relative.kind", relative.get("kind"), RELATIVE_KINDS)
    if (raw["unit"] == "%") != (relative is not None and relative["kind"] != "difference"):
        raise ConfigError(f"{where}: a '%' figure needs relative.kind overhead|ratio and only it; fix the unit")
    build = Build.of(raw["arch"], raw.get("block"), raw.get("options"), raw.get("stages"))
    baseline = None if relative is None else Build.of(
        relative["arch"], relative.get("block"), relative.get("options"), relative.get("stages"))
    return Claim(raw["id"], paper, raw["table"], raw["row"], build, raw["metric"],
                 _decimal(where, raw["value"]), raw["unit"], raw.get("qualifier", "="),
                 _decimal(where, raw["value_max"]) if "value_max" in raw else None,
                 None if relative is None else relative["kind"], baseline,
                 raw.get("words", ""), raw.get("note", ""),
                 tuple(ClaimReading(r["name"], r["summary"], dict(r.get("options", {})), r.get("block"))
                       for r in raw.get("readings", ())))


def _check_choice(where: str, what: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{where}: {what} is {value!r}; use one of {', '.join(map(repr, choices))}")


def _decimal(where: str, text: Any) -> Decimal:
    if not isinstance(text, str):
        raise ConfigError(f"{where}: write figures as strings with the paper's digits (\"0.80\"), got {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"{where}: {text!r} is not a number") from None
