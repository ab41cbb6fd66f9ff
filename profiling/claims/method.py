"""How a paper counted: the one convention and reading set that explain the most of its figures.

A :class:`Method` is a set of reading names (each applied to every row it applies to) and one
counting convention per metric; it is applied to every figure of the paper, the block's own
cost included. :func:`find_method` tries every set of the paper's readings with every convention
(:func:`recalib.profiling.counting.conventions.conventions_for`) and keeps the method that
explains the most distinct figures (:func:`recalib.profiling.claims.verdicts.explains`: at the
printed digits, through no setting chosen from that figure, and on a block only if the network
without the block is not explained too); ties go to fewer readings, then to the conventions listed first (the defaults
``params`` and ``mac``). A figure whose own words say what it counts is counted that way.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from types import MappingProxyType

from recalib.profiling.claims.papers import Claim
from recalib.profiling.claims.candidates import Candidate, Outcome
from recalib.profiling.claims.verdicts import explains
from recalib.profiling.counting.conventions import DEFAULT_CONVENTION, conventions_for

__all__ = ["Method", "find_method"]

_METRIC_WORDS = {"flops": "FLOPs", "params": "parameters"}


@dataclass(frozen=True)
class Method:
    """Readings plus one convention per metric, and how many of the paper's figures it explains."""

    readings: tuple[str, ...]
    conventions: Mapping[str, str]
    explained: int
    total: int
    per_metric: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def candidate(self, claim: Claim) -> Candidate:
        """The method as it applies to ``claim``: its readings that apply there, its metric's convention."""
        names = tuple(sorted(r.name for r in claim.readings if r.name in self.readings))
        return Candidate(names, claim.convention or self.conventions.get(claim.metric, DEFAULT_CONVENTION[claim.metric]))

    @property
    def label(self) -> str:
        """E.g. ``FLOPs as `mac+gates`, parameters as `params+stats`; no reading``."""
        parts = [f"{_METRIC_WORDS[m]} as `{c}`" for m, c in sorted(self.conventions.items())]
        readings = ", ".join(f"`{r}`" for r in self.readings) or "no reading"
        return f"{', '.join(parts)}; {readings}"


def find_method(claims: Sequence[Claim], outcomes: Mapping[str, Mapping[Candidate, Outcome]]) -> Method:
    """The method explaining the most of ``claims`` (``outcomes[claim.id][candidate]``)."""
    names = sorted({r.name for claim in claims for r in claim.readings})
    metrics = sorted({claim.metric for claim in claims})
    tried = {claim.id: list(outcomes[claim.id].values()) for claim in claims}
    best: Method | None = None
    for size in range(len(names) + 1):
        for subset in combinations(names, size):
            chosen = {m: _best_convention(subset, [c for c in claims if c.metric == m], outcomes, tried)
                      for m in metrics}
            explained = sum(n for _, n, _ in chosen.values())
            if best is None or explained > best.explained:
                best = Method(subset, MappingProxyType({m: name for m, (name, _, _) in chosen.items()}),
                              explained, len(claims),
                              MappingProxyType({m: (n, total) for m, (_, n, total) in chosen.items()}))
    assert best is not None
    return best


def _best_convention(readings: tuple[str, ...], claims: Sequence[Claim],
                     outcomes: Mapping[str, Mapping[Candidate, Outcome]],
                     tried: Mapping[str, Sequence[Outcome]]) -> tuple[str, int, int]:
    """(convention, figures it explains, figures) for one metric under one reading set."""
    best = ("", -1, len(claims))
    for convention in conventions_for(claims[0].metric):
        method = Method(readings, {claims[0].metric: convention.name}, 0, 0)
        explained = 0
        for claim in claims:
            outcome = outcomes[claim.id].get(method.candidate(claim))
            explained += outcome is not None and explains(claim, outcome, tried[claim.id])
        if explained > best[1]:
            best = (convention.name, explained, len(claims))
    return best
