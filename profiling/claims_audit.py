"""Measure every claim and give it a verdict.

* **reproduced**: the library's default build of the named model, counted with the default
  convention (``params``: every learnable parameter; ``mac``: multiply-adds of conv and
  linear layers), matches the figure: within 1%, or within the rounding of the printed
  digits when the paper printed fewer digits than 1% needs ("1.9 M" covers 1.85–1.95 M).
  ``~`` figures allow 10% (or one unit of the last printed digit), ``<=`` and ranges are
  bounds, and ``exact`` figures (every digit printed, e.g. 25,557,032) must match exactly.
* **explained**: the figure matches under a *named* alternative, tried in a fixed order:
  the paper's own preset, the other conventions, the readings the claims file lists for
  an ambiguous row, then the layout readings (e.g. Caffe's stride placement). The report
  names the one that matched.
* **unexplained**: nothing matched; the report gives the default measurement and the gap.

Models are never adjusted to hit a number: every candidate is a documented convention or
reading, and an unexplained figure is an honest result.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal

from profiling.claims import UNITS, Build, Claim, PaperClaims, load_papers
from profiling.conventions import CONVENTIONS, DEFAULT_CONVENTION, READINGS, PRESETS, Convention
from profiling.measure import Measurer, load_library

__all__ = ["Candidate", "ClaimResult", "ClaimsAudit", "audit_claims", "candidates", "evaluate", "judge",
           "matches", "tolerance", "resnet50_layouts", "QUICK_ARCHS", "VERDICTS"]

VERDICTS = ("reproduced", "explained", "unexplained", "not measured")


@dataclass(frozen=True)
class Candidate:
    """One way to measure a claim: a reading (how to build) and a convention (how to count)."""

    reading: str
    convention: str
    build: Build
    baseline: Build | None
    summary: str = ""
    preset: str | None = None

    @property
    def label(self) -> str:
        """E.g. ``flop-all``, ``caffe-layout + mac`` or ``preset se-ge-paper (caffe-layout + mac)``."""
        plain = self.convention if self.reading == "default" else f"{self.reading} + {self.convention}"
        return f"preset {self.preset} ({plain})" if self.preset else plain


@dataclass
class ClaimResult:
    """A claim with its verdict, the default measurement, and what (if anything) explained it."""

    claim: Claim
    verdict: str
    measured: float | None
    explanation: Candidate | None = None
    explained_value: float | None = None
    tried: list[tuple[Candidate, float | None]] = field(default_factory=list)
    problem: str = ""

    def closest(self) -> tuple[Candidate, float] | None:
        """The tried candidate whose value came nearest the figure (for unexplained claims)."""
        scored = [(abs(v - float(self.claim.value)), i) for i, (_, v) in enumerate(self.tried) if v is not None]
        if not scored:
            return None
        candidate, value = self.tried[min(scored)[1]]
        return candidate, value  # type: ignore[return-value]

    @property
    def gap_pct(self) -> float | None:
        """Default measurement minus the figure, in % of the figure (None when not comparable)."""
        value = float(self.claim.value)
        if self.measured is None or value == 0 or self.claim.unit == "%":
            return None
        return 100.0 * (self.measured - value) / value


def _conventions(metric: str) -> list[Convention]:
    """The default convention of ``metric`` first, then the others in definition order."""
    default = CONVENTIONS[DEFAULT_CONVENTION[metric]]
    return [default] + [c for c in CONVENTIONS.values() if c.metric == metric and c is not default]


def _layout_applies(build: Build, options: dict[str, object]) -> bool:
    """Whether the architecture takes every layout option and the build does not already set it."""
    accepted, current = _model_options(build.arch), dict(build.options)
    return all(k in accepted and current.get(k) != v for k, v in options.items())


def _model_options(arch: str) -> set[str]:
    """Option names the architecture's builder takes (the rest configure its block)."""
    load_library()
    from recalib.models import model_spec
    from recalib.registry import keyword_names
    return keyword_names(model_spec(arch).builder) or set()


def _read(claim: Claim, options: dict[str, object], block: str | None = None) -> tuple[Build, Build | None]:
    """The claim's build (and baseline) under a reading.

    Model options (``num_classes``, a layout) apply to both builds; block options and a block
    change apply to the claimed build only, so a baseline keeps its own block's defaults.
    """
    base = None
    if claim.baseline is not None:
        accepted = _model_options(claim.baseline.arch)
        base = claim.baseline.with_options({k: v for k, v in options.items() if k in accepted})
    return claim.build.with_options(options, block), base


def candidates(claim: Claim, preset: str | None = None) -> Iterator[Candidate]:
    """Every (reading, convention) to try, in verdict order; the first is the default."""
    conventions = _conventions(claim.metric)
    build, base = claim.build, claim.baseline
    yield Candidate("default", conventions[0].name, build, base)
    if preset is not None and preset in PRESETS and CONVENTIONS[PRESETS[preset].convention].metric == claim.metric:
        p = PRESETS[preset]
        if not p.reading.options or _layout_applies(build, dict(p.reading.options)):
            yield Candidate(p.reading.name, p.convention, *_read(claim, dict(p.reading.options)),
                            p.summary, preset=p.name)
    for conv in conventions[1:]:
        yield Candidate("default", conv.name, build, base)
    for reading in claim.readings:
        read = _read(claim, dict(reading.options), reading.block)
        for conv in conventions:
            yield Candidate(reading.name, conv.name, *read, reading.summary)
    if claim.metric == "flops":
        for named in READINGS.values():
            if named.options and _layout_applies(build, dict(named.options)):
                layout = _read(claim, dict(named.options))
                for conv in conventions:
                    yield Candidate(named.name, conv.name, *layout, named.summary)


def evaluate(claim: Claim, candidate: Candidate, measurer: Measurer) -> float | None:
    """The claim's quantity under ``candidate``, in the claim's unit (None if a build failed)."""
    conv = CONVENTIONS[candidate.convention]
    value = _total(candidate.build, conv, measurer)
    if value is None or claim.relative is None:
        return None if value is None else value / UNITS[claim.unit]
    base = _total(candidate.baseline, conv, measurer)
    if base is None:
        return None
    if claim.relative == "difference":
        return (value - base) / UNITS[claim.unit]
    if claim.relative == "overhead":
        return 100.0 * (value - base) / base
    return 100.0 * value / base


def _total(build: Build | None, conv: Convention, measurer: Measurer) -> float | None:
    if build is None:
        return None
    m = measurer.get(build, flops=conv.metric == "flops")
    counts = m.flops if conv.metric == "flops" else m.params
    if m.error or counts is None:
        return None
    return conv.apply(counts)


def _half_unit(value: Decimal) -> float:
    exponent = value.as_tuple().exponent
    return 0.5 * 10.0 ** min(int(exponent), 0)


def tolerance(claim: Claim) -> float:
    """Allowed |measured − figure| for ``=`` and ``~`` figures, in the claim's unit."""
    value, half = abs(float(claim.value)), _half_unit(claim.value)
    if claim.qualifier == "exact":
        return half
    if claim.qualifier == "~":
        return max(0.10 * value, 2 * half)
    return max(0.01 * value, half)


def matches(claim: Claim, measured: float) -> bool:
    """Whether ``measured`` (in the claim's unit) agrees with the printed figure."""
    half = _half_unit(claim.value)
    if claim.qualifier == "<=":
        return measured <= float(claim.value) + half
    if claim.qualifier == "range":
        assert claim.value_max is not None
        return float(claim.value) - half <= measured <= float(claim.value_max) + _half_unit(claim.value_max)
    return abs(measured - float(claim.value)) <= tolerance(claim)


def judge(claim: Claim, measurer: Measurer, preset: str | None = None) -> ClaimResult:
    """Try the candidates in order; the first match decides the verdict."""
    tried: list[tuple[Candidate, float | None]] = []
    for candidate in candidates(claim, preset):
        value = evaluate(claim, candidate, measurer)
        tried.append((candidate, value))
        if value is not None and matches(claim, value):
            default = tried[0][1]
            verdict = "reproduced" if len(tried) == 1 else "explained"
            return ClaimResult(claim, verdict, default, None if len(tried) == 1 else candidate,
                               value, tried)
    default = tried[0][1]
    if default is None:
        failed = measurer.get(claim.build).error or (claim.baseline and measurer.get(claim.baseline).error)
        return ClaimResult(claim, "not measured", None, tried=tried, problem=str(failed or "build failed"))
    return ClaimResult(claim, "unexplained", default, tried=tried)


@dataclass
class ClaimsAudit:
    """The verdict on every audited claim, with the papers they came from."""

    papers: list[PaperClaims]
    results: list[ClaimResult]
    layouts: dict[str, float]
    seconds: float
    models_measured: int
    unsupported: Counter = field(default_factory=Counter)

    def counts(self, paper: str | None = None) -> dict[str, int]:
        """How many claims (of ``paper``, or all) got each verdict."""
        chosen = [r for r in self.results if paper is None or r.claim.paper == paper]
        return {v: sum(r.verdict == v for r in chosen) for v in VERDICTS}


#: Architectures of the ``quick`` subset (small CIFAR nets); plain ResNet-50 is added as the headline.
QUICK_ARCHS = frozenset({"cifar_resnet20", "preact_resnet110", "cc_vgg_cifar100"})


def _quick(claim: Claim) -> bool:
    builds = [claim.build] + ([claim.baseline] if claim.baseline else [])
    return all(b.arch in QUICK_ARCHS or (b.arch == "resnet50" and b.block is None) for b in builds)


def _traced(papers: list[PaperClaims]) -> set[Build]:
    """Builds some FLOP claim will trace (enumerating candidates builds nothing)."""
    traced: set[Build] = set()
    for paper in papers:
        for claim in (c for c in paper.claims if c.metric == "flops"):
            for cand in candidates(claim, paper.preset):
                traced.update(b for b in (cand.build, cand.baseline) if b is not None)
    return traced


def resnet50_layouts(measurer: Measurer) -> dict[str, float]:
    """ResNet-50 multiply-adds (G) in the torchvision and the Caffe layout: the headline check."""
    out = {}
    for name in ("default", "caffe-layout"):
        build = Build.of("resnet50", options=dict(READINGS[name].options))
        out[name] = CONVENTIONS["mac"].apply(measurer.get(build, flops=True).flops or {}) / 1e9
    return out


def audit_claims(papers: list[str] | None = None, quick: bool = False,
                 progress: bool = False) -> ClaimsAudit:
    """Load the claims of ``papers`` (default: all), measure and judge each one.

    ``quick`` keeps only claims on :data:`QUICK_ARCHS`; ``progress`` shows a tqdm bar.
    """
    from tqdm import tqdm
    start = time.perf_counter()
    loaded = load_papers(papers)
    if quick:
        loaded = [replace(p, claims=tuple(c for c in p.claims if _quick(c))) for p in loaded]
    measurer = Measurer(trace=_traced(loaded))
    todo = [(p, c) for p in loaded for c in p.claims]
    results = [judge(claim, measurer, paper.preset)
               for paper, claim in tqdm(todo, desc="auditing claims", unit="claim",
                                        disable=not progress)]
    layouts = resnet50_layouts(measurer)
    return ClaimsAudit(loaded, results, layouts, time.perf_counter() - start, len(measurer),
                       measurer.unsupported())
