"""The papers' figures as claims to audit.

Which network a table row is, and the figures the row prints, come from the paper
configurations (:mod:`recalib.paper_configs`, ``recalib/papers/*.json``): every printed
``params``/``flops`` of a row is a claim on that row's network. ``profiling/claims/<paper>.json``
adds only what the audit needs, naming rows by their configuration key:

* ``claims``: the text's figures on rows (overheads, ratios, differences, bounds, ranges); a
  figure whose own words say what it counts names that convention (``counts``);
* ``readings``: other ways to read an ambiguous row, as options layered on its configuration,
  each with the words of the text (or official code) it rests on (a configuration's options
  chosen to match figures bring their own reading: the text's literal value, see
  :class:`recalib.paper_configs.FittedOption`);
* ``counting_words`` (what the paper says about counting) and ``not_audited`` (figures that
  name no buildable network).

The same figure printed for the same network in several tables is one claim; ``where`` lists
every appearance. Figures keep the digits the paper printed: they set the tolerance.
"""
from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from recalib.blocks import BLOCKS
from recalib.entries import keyword_names
from recalib.errors import ConfigError, UnknownNameError
from recalib.models import arch_entry
from recalib.paper_configs import Figure, FittedOption, Paper, PaperConfig, load_paper, paper_names
from recalib.profiling.counting.conventions import get_convention
from recalib.record import ModelRecord

__all__ = ["ClaimReading", "ImpliedDelta", "Claim", "PaperClaims", "load_papers", "paper_names",
           "tolerance", "acceptance", "matches", "within_one_percent", "relative_value", "RELATIVE_KINDS"]

RELATIVE_KINDS = ("overhead", "ratio", "difference")


@dataclass(frozen=True)
class ClaimReading:
    """Another way to read an ambiguous row: options (and possibly a block) layered on it.

    ``words`` quote what the text (or the official code) says that allows this reading.
    """

    name: str
    summary: str
    options: Mapping[str, Any] = field(default_factory=dict)
    block: str | None = None
    words: str = ""


@dataclass(frozen=True)
class ImpliedDelta:
    """What the paper's own figures say the block adds: the row's figure minus its baseline row's."""

    value: float
    tolerance: float
    baseline: str
    baseline_figure: Figure

    @property
    def allows_zero(self) -> bool:
        """Whether the printed digits allow a block that costs nothing (the rounding of both rows spans zero)."""
        return abs(self.value) <= self.tolerance


@dataclass(frozen=True)
class Claim:
    """One figure the paper prints (once, however many tables repeat it) and the network it is about.

    ``relative`` claims (overhead/ratio in %, difference in the figure's unit) compare ``build``
    with ``baseline``, the network of row ``over``. Absolute claims on a network with a block
    carry ``removed``, the same network without the block (the paper's baseline row when it
    prints one), and ``implied``, the block's cost by the paper's own figures (or ``no_delta``,
    why there is none). ``convention`` is set when the figure's own words say what it counts
    (the SE notes' "FC weights alone").
    """

    id: str
    paper: str
    where: tuple[str, ...]
    configs: tuple[str, ...]
    build: ModelRecord
    metric: str
    figure: Figure
    relative: str | None = None
    baseline: ModelRecord | None = None
    over: str | None = None
    removed: ModelRecord | None = None
    implied: ImpliedDelta | None = None
    no_delta: str = ""
    words: str = ""
    notes: tuple[str, ...] = ()
    fit: FittedOption | None = None
    readings: tuple[ClaimReading, ...] = ()
    contradiction: str = ""
    convention: str | None = None

    @property
    def printed(self) -> str:
        """The figure as the paper printed it, e.g. ``"~0.3%"`` or ``"3.86 G"``."""
        return str(self.figure)

    @property
    def on_block(self) -> bool:
        """Whether the claim is about a network with a recalibration block (absolute or relative)."""
        return self.build.block is not None


@dataclass(frozen=True)
class PaperClaims:
    """Everything the audit knows about one source of figures: its rows (``about``) and its claims."""

    about: Paper
    counting_words: str
    claims: tuple[Claim, ...]
    readings: tuple[ClaimReading, ...]
    not_audited: tuple[Mapping[str, Any], ...]

    @property
    def paper(self) -> str:
        """The source's key, e.g. ``ms-sar``."""
        return self.about.key


def tolerance(figure: Figure) -> float:
    """Allowed |measured − figure| (figure's unit) for ``=`` and ``~`` figures.

    ``=``: half a unit of the last printed digit (the figure's own rounding). ``~``: 10% of the
    figure, or one unit of its last digit if that is more.
    """
    value, half = abs(float(figure.value)), Figure.half_unit(figure.value)
    return max(0.10 * value, 2 * half) if figure.qualifier == "~" else half


def acceptance(figure: Figure) -> tuple[float, float]:
    """The interval of measured values (figure's unit) that agree with the printed figure.

    ``=`` and ``~``: the figure ± :func:`tolerance`; ``<=``: up to the bound's rounding;
    a range: from its low end's rounding to its high end's.
    """
    value, half = float(figure.value), Figure.half_unit(figure.value)
    if figure.qualifier == "<=":
        return -math.inf, value + half
    if figure.qualifier == "range":
        assert figure.value_max is not None
        return value - half, float(figure.value_max) + Figure.half_unit(figure.value_max)
    return value - tolerance(figure), value + tolerance(figure)


def matches(figure: Figure, measured: float) -> bool:
    """Whether ``measured`` (in the figure's unit) agrees with the printed figure."""
    low, high = acceptance(figure)
    return low <= measured <= high


def within_one_percent(figure: Figure, measured: float) -> bool:
    """The weaker test: a plain figure within 1% (only for ``=`` figures that are not percentages)."""
    value = float(figure.value)
    return figure.qualifier == "=" and figure.unit != "%" and abs(measured - value) <= 0.01 * abs(value)


def relative_value(kind: str, total: float, base: float, scale: float) -> float:
    """A relative figure from two totals: overhead and ratio in %, a difference in units of ``scale``."""
    if kind == "overhead":
        return 100.0 * (total - base) / base
    if kind == "ratio":
        return 100.0 * total / base
    return (total - base) / scale


def load_papers(papers: Iterable[str] | None = None) -> list[PaperClaims]:
    """The claims of ``papers`` (default: all), validated and de-duplicated."""
    known = paper_names()
    chosen = list(papers) if papers is not None else known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ConfigError(f"no paper called {', '.join(unknown)}; choose from: {', '.join(known)}")
    return [_load(name) for name in chosen]


def _load(name: str) -> PaperClaims:
    paper = load_paper(name)
    path = resources.files("recalib.profiling.claims") / "data" / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"profiling/claims/{name}.json cannot be read ({exc}); fix the file") from None
    readings = {r["name"]: (ClaimReading(r["name"], r["summary"], dict(r.get("options", {})), r.get("block"),
                                         r.get("words", "")),
                            r.get("applies", {})) for r in data.get("readings", ())}
    configs = {c.name: c for c in paper.configs}
    claims = [c for config in paper.configs for c in _table_claims(config, configs)]
    claims += [c for raw in data.get("claims", ()) for c in _text_claims(name, raw, configs)]
    claims = [replace(c, readings=_readings(c, configs, readings)) for c in claims]
    merged = _contradictions(_merge(claims), configs)
    return PaperClaims(paper, data.get("counting_words", ""), tuple(merged), tuple(r for r, _ in readings.values()),
                       tuple(data.get("not_audited", ())))


def _table_claims(config: PaperConfig, configs: Mapping[str, PaperConfig]) -> list[Claim]:
    """One claim per figure the row prints, with the block's implied delta where it has one."""
    build = config.record
    out = []
    for metric, figure in config.figures.items():
        claim = Claim(f"{config.key}:{metric}", config.paper, (f"{config.table}, {config.row}",), (config.name,),
                      build, metric, figure, notes=config.notes,
                      fit=next((f for f in config.fitted if f.metric == metric and config.name in f.figures), None))
        if config.record.block is not None:
            claim = _with_delta(claim, config, configs)
        out.append(claim)
    return out


def _with_delta(claim: Claim, config: PaperConfig, configs: Mapping[str, PaperConfig]) -> Claim:
    if config.baseline is None:
        return replace(claim, removed=claim.build.without_block(),
                       no_delta=f"the paper prints no {config.record.arch} row without the block")
    base = configs[config.baseline]
    removed = base.record
    figure = base.figures.get(claim.metric)
    if figure is None:
        return replace(claim, removed=removed, no_delta=f"its baseline row ({base.table}, {base.row}) "
                                                        f"prints no {claim.metric}")
    scale = figure.scale / claim.figure.scale
    implied = ImpliedDelta(float(claim.figure.value) - float(figure.value) * scale,
                           Figure.half_unit(claim.figure.value) + Figure.half_unit(figure.value) * scale,
                           base.name, figure)
    return replace(claim, removed=removed, implied=implied)


def _text_claims(paper: str, raw: Mapping[str, Any], configs: Mapping[str, PaperConfig]) -> list[Claim]:
    """A text claim on each row it names (``[row, over]`` pairs compare with another row)."""
    where = f"profiling/claims/{paper}.json claim {raw.get('id', '?')}"
    relative = raw.get("relative")
    if relative not in RELATIVE_KINDS:
        raise ConfigError(f"{where}: relative is {relative!r}; use one of {', '.join(RELATIVE_KINDS)}")
    figure = Figure.parse(raw["figure"], where)
    if (figure.unit == "%") != (relative != "difference"):
        raise ConfigError(f"{where}: an overhead or ratio is a '%' figure and a difference is not; fix the unit")
    out = []
    for target in raw["on"]:
        key, over = (target, None) if isinstance(target, str) else tuple(target)
        config = _config(configs, f"{paper}/{key}", where)
        over_name = f"{paper}/{over}" if over else config.baseline
        if over_name is None:
            raise ConfigError(f"{where}: row {key} has no baseline row; name the row to compare with as [row, over]")
        base = _config(configs, over_name, where)
        out.append(Claim(f"{raw['id']}@{key}", paper, (f"{raw['where']}, {config.row} vs {base.row}",), (config.name,),
                         config.record, raw["metric"], figure, relative, base.record, base.name,
                         words=raw.get("words", ""), notes=(raw["note"],) if "note" in raw else (),
                         convention=_stated_convention(raw, where)))
    return out


def _stated_convention(raw: Mapping[str, Any], where: str) -> str | None:
    """The convention a figure's own words name (``counts``), checked against its metric."""
    name = raw.get("counts")
    if name is None:
        return None
    try:
        convention = get_convention(name)
    except UnknownNameError as exc:
        raise ConfigError(f"{where}: counts: {exc}") from None
    if convention.metric != raw["metric"]:
        raise ConfigError(f"{where}: counts {name!r} counts {convention.metric}, but the figure is {raw['metric']}")
    return name


def _config(configs: Mapping[str, PaperConfig], name: str, where: str) -> PaperConfig:
    if name not in configs:
        raise ConfigError(f"{where}: no row {name}; rows are named in recalib/papers/*.json")
    return configs[name]


def _readings(claim: Claim, configs: Mapping[str, PaperConfig],
              declared: Mapping[str, tuple[ClaimReading, Mapping[str, Any]]]) -> tuple[ClaimReading, ...]:
    """The readings that apply to the claim's row; a fitted option brings the text's literal value."""
    config = configs[claim.configs[0]]
    found = [reading for reading, applies in declared.values() if _applies(applies, config)]
    for reading in found:
        _check_reading(reading, config)
    found += [ClaimReading(f"text: {fit.option}={fit.text_value}", f"the text's literal {fit.option}={fit.text_value}; "
                           f"this row's {fit.option}={fit.value} was chosen to match figures ({fit.why})",
                           {fit.option: fit.text_value}, words=fit.words)
              for fit in config.fitted]
    return tuple(found)


def _check_reading(reading: ClaimReading, config: PaperConfig) -> None:
    """A reading may only set options the row's model or block takes (a typo would build nothing)."""
    arch, block = config.record.arch, reading.block or config.record.block
    accepted = arch_entry(arch).option_names() | (keyword_names(BLOCKS.get(block).builder) or set() if block else set())
    unknown = sorted(set(reading.options) - accepted)
    if unknown:
        raise ConfigError(f"{config.paper}: reading {reading.name!r} sets {', '.join(unknown)}, which row "
                          f"{config.key} ({arch} + {block}) does not take")


def _applies(applies: Mapping[str, Any], config: PaperConfig) -> bool:
    record = config.record
    return (record.arch in applies.get("arch", [record.arch])
            and applies.get("block", record.block) == record.block
            and config.key in applies.get("configs", [config.key]))


def _merge(claims: Sequence[Claim]) -> list[Claim]:
    """One claim per distinct figure on a network; repeats add their appearances and rows."""
    merged: dict[tuple[Any, ...], Claim] = {}
    for claim in claims:
        key = (claim.build, claim.baseline, claim.metric, claim.relative, claim.printed)  # "36.9" ≠ "36.90"
        first = merged.get(key)
        if first is None:
            merged[key] = claim
            continue
        merged[key] = replace(first, where=first.where + claim.where, configs=first.configs + claim.configs,
                              notes=tuple(dict.fromkeys(first.notes + claim.notes)),
                              implied=first.implied or claim.implied, fit=first.fit or claim.fit)
    return list(merged.values())


def _contradictions(claims: list[Claim], configs: Mapping[str, PaperConfig]) -> list[Claim]:
    """Mark figures the paper's own other figures disagree with (at face value)."""
    out = []
    for claim in claims:
        if claim.relative is None:
            others = [o for o in claims if o is not claim and o.relative is None and o.build == claim.build
                      and o.metric == claim.metric and _disagree(claim.figure, o.figure)]
            text = "; ".join(f"{', '.join(o.where)} prints {o.printed} for the same network" for o in others)
        else:
            text = _implied_relative(claim, configs)
        out.append(replace(claim, contradiction=text))
    return out


def _disagree(a: Figure, b: Figure) -> bool:
    """Neither figure's value lies within the other's printed rounding."""
    va, vb = float(a.value) * a.scale, float(b.value) * b.scale
    return (abs(va - vb) > Figure.half_unit(a.value) * a.scale
            and abs(vb - va) > Figure.half_unit(b.value) * b.scale)


def _rounding(figure: Figure) -> tuple[float, float]:
    """The raw counts a printed table figure may stand for: its value ± half a unit of its last digit."""
    half = Figure.half_unit(figure.value)
    return (float(figure.value) - half) * figure.scale, (float(figure.value) + half) * figure.scale


def _implied_relative(claim: Claim, configs: Mapping[str, PaperConfig]) -> str:
    """The relative figures the paper's own table rows allow, when none of them agrees with the claim.

    Both rows are taken anywhere within their printed rounding (a relative figure grows with its
    row and shrinks with its baseline), so only a claim no rounding can reach contradicts them.
    """
    row = configs[claim.configs[0]]
    base = configs[claim.over] if claim.over else None
    if base is None or claim.metric not in row.figures or claim.metric not in base.figures or claim.convention:
        return ""  # a figure that says it counts something else (weights alone) is not the tables' difference
    (a_low, a_high), (b_low, b_high) = _rounding(row.figures[claim.metric]), _rounding(base.figures[claim.metric])
    kind, scale = claim.relative or "difference", claim.figure.scale
    low, high = relative_value(kind, a_low, b_high, scale), relative_value(kind, a_high, b_low, scale)
    accepted_low, accepted_high = acceptance(claim.figure)
    if low <= accepted_high and accepted_low <= high:
        return ""
    unit = "%" if claim.figure.unit == "%" else f" {claim.figure.unit}".rstrip()
    return (f"{base.table} prints {base.row} {base.figures[claim.metric]} and {row.table} prints {row.row} "
            f"{row.figures[claim.metric]}: {low:+.2f}{unit} to {high:+.2f}{unit} within their rounding")
