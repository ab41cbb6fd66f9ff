"""The networks behind the papers' parameter and FLOP tables, by name.

Every row of every parameter/FLOP table in the papers (and in our notes on the official SE
code) that the library can build is a :class:`PaperConfig` with a stable name
``<paper>/<table>/<row>``, e.g. ``ms-sar/table-5/resnext-50-ms-sar``. A configuration spells out
the paper's settings as explicit options (reduction, scales, layout, head, input size …) of its
:class:`~recalib.record.ModelRecord`, so it does not move when a library default does, and
carries the figures the row prints.

The data lives in ``recalib/papers/<paper>.json``: per paper, named ``settings`` (an option
group with the paper's words for it, e.g. MS-SAR's CIFAR ResNet block setting), the table
rows (``configs``: architecture, block, the settings they use, their own options, their
baseline row, the printed ``params``/``flops``), and the rows that cannot be built. This is
the one place that says which network a table row is; the claims audit (``recalib.profiling``) reads
it and adds only the text claims and counting hypotheses.

Names: three ``/``-separated segments of lowercase letters, digits and ``-`` (no ``+``, ``:``,
``,``, ``=`` or whitespace, so a model specification can embed them).
"""
from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from recalib.errors import ConfigError, UnknownNameError
from recalib.record import ModelRecord, hashable_value

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Figure", "FittedOption", "PaperConfig", "UnbuildableRow", "Paper", "UNITS", "METRICS",
           "NAME_PATTERN", "paper_names", "load_paper", "get_paper_config", "list_paper_configs"]

UNITS: Mapping[str, float] = MappingProxyType({"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "%": 1.0})
METRICS = ("params", "flops")
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*){2}")
_FIGURE = re.compile(r"(?P<qualifier>~|<=)?\s*(?P<value>[0-9.]+)(?:\s*[-–]\s*(?P<max>[0-9.]+))?\s*(?P<unit>[KMG%]?)")


@dataclass(frozen=True)
class Figure:
    """A figure as printed: its digits (the printed precision is part of the claim), unit, qualifier.

    ``qualifier`` is ``=`` (a plain figure), ``~`` (approximately), ``<=`` (at most) or
    ``range`` (``value``–``value_max``).
    """

    value: Decimal
    unit: str = ""
    qualifier: str = "="
    value_max: Decimal | None = None

    @classmethod
    def parse(cls, text: str, where: str) -> Figure:
        """``"27.6 M"``, ``"25557032"``, ``"~ 0.3 %"``, ``"<= 1 %"``, ``"0.2-5 %"``."""
        match = _FIGURE.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ConfigError(f"{where}: figure {text!r} is not '[~|<=] NUMBER[-NUMBER] [K|M|G|%]'; "
                              f"write it with the paper's digits, e.g. \"27.6 M\" or \"~ 0.3 %\"")
        try:
            value = Decimal(match["value"])
            value_max = None if match["max"] is None else Decimal(match["max"])
        except InvalidOperation:
            raise ConfigError(f"{where}: figure {text!r} is not a number") from None
        if value_max is not None and match["qualifier"]:
            raise ConfigError(f"{where}: figure {text!r} is a range; a range takes no qualifier")
        qualifier = "range" if value_max is not None else (match["qualifier"] or "=")
        return cls(value, match["unit"], qualifier, value_max)

    @property
    def scale(self) -> float:
        """The unit's multiplier (``M`` → 1e6; ``%`` and no unit → 1)."""
        return UNITS[self.unit]

    @staticmethod
    def half_unit(value: Decimal) -> float:
        """Half a unit of ``value``'s last printed digit: the rounding of ``"27.6"`` is 0.05."""
        return 0.5 * 10.0 ** min(int(value.as_tuple().exponent), 0)

    def __str__(self) -> str:
        value = f"{self.value}–{self.value_max}" if self.qualifier == "range" else str(self.value)
        prefix = self.qualifier if self.qualifier in ("~", "<=") else ""
        unit = self.unit if self.unit in ("", "%") else f" {self.unit}"
        return f"{prefix}{value}{unit}"


@dataclass(frozen=True)
class FittedOption:
    """An option whose value was chosen to match figures rather than read from the text.

    ``text_value`` is what the paper's text says literally (``words``); ``figures`` are the
    names of the configurations whose ``metric`` figure the value was chosen to match.
    """

    option: str
    value: Any
    text_value: Any
    metric: str
    figures: tuple[str, ...]
    words: str
    why: str


@dataclass(frozen=True)
class PaperConfig:
    """One table row: the network, spelled out as a model record, and the figures the paper prints for it."""

    name: str
    paper: str
    table: str
    row: str
    record: ModelRecord
    figures: Mapping[str, Figure]
    baseline: str | None = None
    insertion: str = ""
    notes: tuple[str, ...] = ()
    fitted: tuple[FittedOption, ...] = ()

    def create(self) -> nn.Module:
        """The network, built from its record (random weights)."""
        return self.record.create()

    @property
    def input_size(self) -> tuple[int, int]:
        """``(H, W)`` the network takes (:meth:`recalib.record.ModelRecord.input_chw`)."""
        _, height, width = self.record.input_chw()
        return height, width

    @property
    def key(self) -> str:
        """The name without the paper, e.g. ``table-5/resnext-50-ms-sar``."""
        return self.name.split("/", 1)[1]


@dataclass(frozen=True)
class UnbuildableRow:
    """A table row the library cannot build, with the figures it prints and why."""

    paper: str
    table: str
    row: str
    figures: Mapping[str, Figure]
    reason: str


@dataclass(frozen=True)
class Paper:
    """One source of figures: a paper, or (``kind == "code notes"``) our notes on official code."""

    key: str
    title: str
    source: str
    kind: str
    configs: tuple[PaperConfig, ...]
    unbuildable: tuple[UnbuildableRow, ...]


def paper_names() -> list[str]:
    """The papers with a configuration file, sorted."""
    folder = resources.files("recalib") / "papers"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


@lru_cache(maxsize=None)
def load_paper(key: str) -> Paper:
    """Parse and validate ``recalib/papers/<key>.json``."""
    known = paper_names()
    if key not in known:
        raise UnknownNameError("paper", key, known)
    text = (resources.files("recalib") / "papers" / f"{key}.json").read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"recalib/papers/{key}.json is not valid JSON ({exc}); fix the file") from None
    settings = data.get("settings", {})
    configs = tuple(_config(key, settings, raw) for raw in data["configs"])
    _check_references(key, configs)
    unbuildable = tuple(UnbuildableRow(key, raw["table"], raw["row"], _figures(f"{key}: {raw['row']}", raw),
                                       raw["reason"]) for raw in data.get("unbuildable", ()))
    return Paper(key, data["title"], data["source"], data.get("kind", "paper"), configs, unbuildable)


def _config(paper: str, settings: Mapping[str, Any], raw: Mapping[str, Any]) -> PaperConfig:
    name = f"{paper}/{raw['key']}"
    if not NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"recalib/papers/{paper}.json: {name!r} is not a valid configuration name "
                          f"(three '/'-separated parts of lowercase letters, digits and '-')")
    options: dict[str, Any] = {}
    insertion, notes, fitted = "", [], []
    for setting_name in raw.get("settings", ()):
        if setting_name not in settings:
            raise ConfigError(f"{name}: unknown setting {setting_name!r}; define it under 'settings' "
                              f"(known: {', '.join(sorted(settings))})")
        setting = settings[setting_name]
        clash = sorted(set(options) & set(setting.get("options", {})))
        if clash:
            raise ConfigError(f"{name}: settings set {', '.join(clash)} twice; an option belongs to one setting")
        options.update(setting.get("options", {}))
        insertion = setting.get("insertion", insertion)
        notes += [setting["why"]] if "why" in setting else []
        fitted += [_fitted(paper, option, options, fit) for option, fit in setting.get("fitted", {}).items()]
    options.update(raw.get("options", {}))
    record = ModelRecord(raw["arch"], raw.get("block"), options,
                         None if raw.get("stages") is None else tuple(raw["stages"]))
    fitted = [fit for fit in fitted if record.options.get(fit.option) == fit.value]  # a row option overrides it
    return PaperConfig(name, paper, raw["table"], raw["row"], record, _figures(name, raw),
                       None if raw.get("baseline") is None else f"{paper}/{raw['baseline']}",
                       insertion if raw.get("block") else "",
                       tuple(notes + ([raw["note"]] if "note" in raw else [])), tuple(fitted))


def _fitted(paper: str, option: str, options: Mapping[str, Any], fit: Mapping[str, Any]) -> FittedOption:
    return FittedOption(option, hashable_value(options[option]), hashable_value(fit["text"]), fit["metric"],
                        tuple(f"{paper}/{key}" for key in fit["figures"]), fit["words"], fit["why"])


def _figures(where: str, raw: Mapping[str, Any]) -> Mapping[str, Figure]:
    return MappingProxyType({m: Figure.parse(raw[m], f"{where} ({m})") for m in METRICS if m in raw})


def _check_references(paper: str, configs: Sequence[PaperConfig]) -> None:
    names = [c.name for c in configs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"recalib/papers/{paper}.json: duplicate configuration name(s) {', '.join(dupes)}")
    by_name = {c.name: c for c in configs}
    for config in configs:
        refs = ([config.baseline] if config.baseline else []) + [f for fit in config.fitted for f in fit.figures]
        missing = [r for r in refs if r not in by_name]
        if missing:
            raise ConfigError(f"{config.name}: refers to unknown row(s) {', '.join(missing)}")
        if config.baseline and by_name[config.baseline].record.arch != config.record.arch:
            raise ConfigError(f"{config.name}: baseline {config.baseline} is another architecture "
                              f"({by_name[config.baseline].record.arch}); a baseline is the same backbone "
                              f"without the block")


def list_paper_configs(paper: str | None = None) -> list[PaperConfig]:
    """Every paper configuration (of ``paper``, or of all papers), in table order."""
    papers = paper_names() if paper is None else [paper]
    return [config for key in papers for config in load_paper(key).configs]


def get_paper_config(name: str) -> PaperConfig:
    """The configuration called ``name`` (``UnknownNameError`` listing the closest names)."""
    paper = name.split("/", 1)[0]
    if paper in paper_names():
        for config in load_paper(paper).configs:
            if config.name == name:
                return config
    every = [c.name for c in list_paper_configs()]
    close = difflib.get_close_matches(name, every, n=6, cutoff=0.6)
    if not close:
        close = [c for c in every if c.startswith(f"{paper}/")] or [f"{p}/…" for p in paper_names()]
    raise UnknownNameError("paper configuration", name, close)
