"""The block's own cost: what the paper's figures say the block adds, against what it adds measured.

For a figure on a network with a block, the paper's figures imply the block's cost: an absolute
row minus its baseline row (:class:`recalib.profiling.claims.papers.ImpliedDelta`, tolerance the
rounding of both), or a relative figure (an overhead, a ratio, a bound), which *is* the block's
cost. It is measured under the paper's method only: the same network with and without the
block, counted alike. The verdicts (:data:`BLOCK_COST`):

* **holds**: the measured cost agrees, the paper's digits exclude a block that costs nothing,
  the method uses no setting chosen from this figure, and the figure itself is explained;
* **fails**: the measured cost does not agree;
* **unresolvable**: it agrees, but so would no block at all (the implied delta's tolerance spans
  zero; a bound such as "≤ 1%" or "~1%" that a zero overhead meets);
* **not counted**: it agrees, but the setting was chosen from this figure, or the figure itself
  is not explained (it is only within 1%, row-specific, …);
* **no implied delta**: the paper prints nothing to compare the block's cost with;
* **not measured**: the network with or without the block could not be counted.
"""
from __future__ import annotations

from dataclasses import dataclass

from recalib.profiling.claims.candidates import Outcome
from recalib.profiling.claims.papers import Claim

__all__ = ["BlockCost", "judge_block_cost", "BLOCK_COST"]

BLOCK_COST = ("holds", "fails", "unresolvable", "not counted", "no implied delta", "not measured")


@dataclass(frozen=True)
class BlockCost:
    """The block's own verdict, the paper's method's outcome it was measured under, and why (``note``).

    ``relative``: the figure is itself the block's cost (an overhead, a ratio, a difference).
    """

    verdict: str
    by: Outcome | None
    note: str
    relative: bool

    @property
    def measured(self) -> float | None:
        """The block's measured cost in the figure's unit: the relative figure itself, or the delta."""
        if self.by is None:
            return None
        return self.by.value if self.relative else self.by.delta


def _agrees(claim: Claim, method: Outcome) -> tuple[bool, bool]:
    """(the measured cost agrees with the paper's, a block costing nothing would agree too)."""
    if claim.relative is not None:
        return method.exact, method.removed_exact
    assert claim.implied is not None and method.delta is not None
    return abs(method.delta - claim.implied.value) <= claim.implied.tolerance, claim.implied.allows_zero


def judge_block_cost(claim: Claim, explained: bool, chosen: bool, method: Outcome | None) -> BlockCost | None:
    """The block's own verdict for ``claim`` (None on no block) under the paper's method's outcome.

    ``explained``: the figure's verdict is reproduced or paper's method; ``chosen``: the method
    matches only through a setting chosen from this figure.
    """
    if not claim.on_block:
        return None
    relative = claim.relative is not None
    if not relative and claim.implied is None:
        return BlockCost("no implied delta", method, claim.no_delta, relative)
    if method is None or method.value is None or method.removed is None:
        return BlockCost("not measured", method, "the network with or without the block could not be counted",
                         relative)
    agrees, zero_agrees = _agrees(claim, method)
    if not agrees:
        return BlockCost("fails", method, "", relative)
    if zero_agrees:
        return BlockCost("unresolvable", method, "the paper's digits allow a block that costs nothing", relative)
    if chosen:
        return BlockCost("not counted", method, "the paper's method uses a setting chosen from this figure", relative)
    if not explained:
        return BlockCost("not counted", method, "the figure itself is not explained by the paper's method", relative)
    return BlockCost("holds", method, "", relative)
