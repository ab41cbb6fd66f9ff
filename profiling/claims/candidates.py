"""Candidate ways to build and count a claim, and what each gives.

A :class:`Candidate` is a set of readings (options layered on the row's configuration, see
:class:`recalib.profiling.claims.papers.ClaimReading`) and a counting convention. :func:`candidates` lists
every set of the readings that apply to the claim's row with every convention of its metric
(:func:`recalib.profiling.counting.conventions.conventions_for`): the row's configuration with the default
convention first. :func:`evaluate` gives the claim's :class:`Outcome` under one candidate: its
quantity and, for a figure on a network with a block, the same quantity with the block removed
and the block's delta.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import combinations

from recalib.models import arch_entry
from recalib.profiling.claims.papers import Claim, ClaimReading, matches, relative_value, within_one_percent
from recalib.profiling.counting.conventions import conventions_for, get_convention
from recalib.profiling.claims.measure import Measurer
from recalib.record import ModelRecord

__all__ = ["Candidate", "Outcome", "candidates", "builds", "evaluate", "total"]


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
    """A claim's quantity under one candidate (claim units), and its block's delta.

    ``removed`` is the same quantity with the block removed (absolute claims on a network with
    a block); ``delta`` is ``value − removed``, the block's measured cost; ``delta_ok`` whether
    it agrees with the paper's implied delta (None when the paper implies none).
    """

    candidate: Candidate
    value: float | None
    exact: bool = False
    loose: bool = False
    removed: float | None = None
    delta: float | None = None
    delta_ok: bool | None = None
    removed_exact: bool = False
    removed_loose: bool = False


def candidates(claim: Claim) -> list[Candidate]:
    """Every (reading set, convention) to try; the first is the row's configuration, default counting."""
    names = sorted(r.name for r in claim.readings)
    subsets = [subset for size in range(len(names) + 1) for subset in combinations(names, size)]
    return [Candidate(subset, conv.name) for subset in subsets for conv in conventions_for(claim.metric)]


def _reading(claim: Claim, name: str) -> ClaimReading:
    return next(r for r in claim.readings if r.name == name)


def builds(claim: Claim, candidate: Candidate) -> tuple[ModelRecord, ModelRecord | None]:
    """The claim's network under the candidate's readings, and the one it is compared with.

    Readings change the claim's own network fully; the other network (the baseline of a
    relative claim, or the network without the block) takes only their model options, so a
    baseline keeps its own block's settings.
    """
    build, other = claim.build, claim.baseline if claim.relative is not None else claim.removed
    for name in candidate.readings:
        reading = _reading(claim, name)
        build = build.with_options(reading.options, reading.block)
        if other is not None:
            accepted = arch_entry(other.arch).option_names()
            other = other.with_options({k: v for k, v in reading.options.items() if k in accepted})
    return build, other


def total(build: ModelRecord | None, convention: str, measurer: Measurer) -> float | None:
    """The whole of ``build`` under ``convention`` (None if it failed to build or there is no build)."""
    if build is None:
        return None
    conv = get_convention(convention)
    m = measurer.get(build, flops=conv.metric == "flops")
    counts = m.flops if conv.metric == "flops" else m.params
    return None if m.error or counts is None else conv.apply(counts)


def evaluate(claim: Claim, candidate: Candidate, measurer: Measurer) -> Outcome:
    """The claim's quantity under ``candidate`` (claim units), with the block's delta where it has one."""
    build, other = builds(claim, candidate)
    whole, base = total(build, candidate.convention, measurer), total(other, candidate.convention, measurer)
    scale = claim.figure.scale
    if whole is None or (other is not None and base is None):
        return Outcome(candidate, None)
    if claim.relative is not None:
        assert base is not None
        value = relative_value(claim.relative, whole, base, scale)
        return Outcome(candidate, value, matches(claim.figure, value))
    value = whole / scale
    outcome = Outcome(candidate, value, matches(claim.figure, value), within_one_percent(claim.figure, value))
    if base is None:
        return outcome
    removed, implied = base / scale, claim.implied
    delta_ok = None if implied is None else abs(value - removed - implied.value) <= implied.tolerance
    return replace(outcome, removed=removed, delta=value - removed, delta_ok=delta_ok,
                   removed_exact=matches(claim.figure, removed),
                   removed_loose=within_one_percent(claim.figure, removed))
