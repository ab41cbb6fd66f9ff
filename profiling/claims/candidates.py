"""Candidate ways to build and count a claim, and what each gives with and without the block.

A :class:`Candidate` is a set of readings (options layered on the row's configuration, see
:class:`recalib.profiling.claims.papers.ClaimReading`) and a counting convention. :func:`candidates` lists
every set of the readings that apply to the claim's row with every convention of its metric
(:func:`recalib.profiling.counting.conventions.conventions_for`): the row's configuration with the default
convention first. :func:`evaluate` gives the claim's :class:`Outcome` under one candidate: its
quantity and, for a figure on a network with a block, the same quantity with the block removed,
so that every verdict can be asked again of the network without the block.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from recalib.models import arch_entry
from recalib.profiling.claims.papers import Claim, ClaimReading, matches, relative_value, within_one_percent
from recalib.profiling.counting.conventions import conventions_for, get_convention
from recalib.profiling.claims.measure import Measurer
from recalib.record import ModelRecord

__all__ = ["Candidate", "Outcome", "Networks", "candidates", "networks", "evaluate", "total"]


@dataclass(frozen=True)
class Candidate:
    """A way to build and count: reading names (sorted) and a convention name."""

    readings: tuple[str, ...]
    convention: str

    @property
    def label(self) -> str:
        """E.g. ``mac+gates`` or ``params+stats · cifar100-head``."""
        return " · ".join((self.convention, *self.readings))


@dataclass(frozen=True)
class Outcome:
    """A claim's quantity under one candidate (claim units), with and without the block.

    ``exact``: it agrees with the figure at its printed digits; ``loose``: within 1% (plain
    absolute figures only). ``removed`` is the same quantity of the same network with the block
    removed (a relative figure's row without its block, compared with the same baseline), with
    its own ``removed_exact``/``removed_loose``; None where the claim is on no block.
    """

    candidate: Candidate
    value: float | None
    exact: bool = False
    loose: bool = False
    removed: float | None = None
    removed_exact: bool = False
    removed_loose: bool = False

    @property
    def delta(self) -> float | None:
        """The block's measured cost: the quantity minus the same quantity without the block."""
        return None if self.value is None or self.removed is None else self.value - self.removed

    def without_block(self) -> Outcome:
        """This candidate's outcome for the network with the block removed, as if it were the claim's network."""
        return Outcome(self.candidate, self.removed, self.removed_exact, self.removed_loose)


@dataclass(frozen=True)
class Networks:
    """The networks one candidate counts for a claim.

    ``build``: the claim's network; ``baseline``: the row a relative figure compares with;
    ``plain``: the claim's network with the block removed (the paper's baseline row where it
    prints one), None for a claim on no block.
    """

    build: ModelRecord
    baseline: ModelRecord | None
    plain: ModelRecord | None


def candidates(claim: Claim) -> list[Candidate]:
    """Every (reading set, convention) to try; the first is the row's configuration, default counting."""
    names = sorted(r.name for r in claim.readings)
    subsets = [subset for size in range(len(names) + 1) for subset in combinations(names, size)]
    return [Candidate(subset, conv.name) for subset in subsets for conv in conventions_for(claim.metric)]


def _reading(claim: Claim, name: str) -> ClaimReading:
    return next(r for r in claim.readings if r.name == name)


def _backbone_options(record: ModelRecord, reading: ClaimReading) -> ModelRecord:
    """``record`` with the reading's options its architecture takes (a baseline keeps its own block's settings)."""
    accepted = arch_entry(record.arch).option_names()
    return record.with_options({k: v for k, v in reading.options.items() if k in accepted})


def networks(claim: Claim, candidate: Candidate) -> Networks:
    """The claim's networks under the candidate's readings.

    Readings change the claim's own network fully; the baseline and the network without the
    block take only their backbone options.
    """
    build = claim.build
    baseline = claim.baseline if claim.relative is not None else None
    plain = None if not claim.on_block else claim.removed if claim.relative is None else claim.build.without_block()
    for name in candidate.readings:
        reading = _reading(claim, name)
        build = build.with_options(reading.options, reading.block)
        baseline = None if baseline is None else _backbone_options(baseline, reading)
        plain = None if plain is None else _backbone_options(plain, reading)
    return Networks(build, baseline, plain)


def total(build: ModelRecord | None, convention: str, measurer: Measurer) -> float | None:
    """The whole of ``build`` under ``convention`` (None if it failed to build or there is no build)."""
    if build is None:
        return None
    conv = get_convention(convention)
    m = measurer.get(build, flops=conv.metric == "flops")
    counts = m.flops if conv.metric == "flops" else m.params
    return None if m.error or counts is None else conv.apply(counts)


def _quantity(claim: Claim, whole: float, base: float | None) -> float:
    """The claim's quantity from its network's total (and its baseline's, for a relative figure)."""
    if claim.relative is None:
        return whole / claim.figure.scale
    assert base is not None
    return relative_value(claim.relative, whole, base, claim.figure.scale)


def evaluate(claim: Claim, candidate: Candidate, measurer: Measurer) -> Outcome:
    """The claim's quantity under ``candidate`` (claim units), and without the block where it has one."""
    nets = networks(claim, candidate)
    whole, base = total(nets.build, candidate.convention, measurer), total(nets.baseline, candidate.convention, measurer)
    if whole is None or (nets.baseline is not None and base is None):
        return Outcome(candidate, None)
    figure, absolute = claim.figure, claim.relative is None
    value = _quantity(claim, whole, base)
    plain = total(nets.plain, candidate.convention, measurer)
    removed = None if plain is None else _quantity(claim, plain, base)
    return Outcome(candidate, value, matches(figure, value), absolute and within_one_percent(figure, value), removed,
                   removed is not None and matches(figure, removed),
                   removed is not None and absolute and within_one_percent(figure, removed))
