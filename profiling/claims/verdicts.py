"""The verdict on one claim, from its outcomes under every candidate way of building and counting.

Each paper is read through one method (:mod:`recalib.profiling.claims.method`): one convention per
metric and one set of readings, applied to every figure of the paper. The verdicts
(:data:`VERDICTS`), strongest first:

* **reproduced**: the paper's method gives the figure to its printed digits (within half a unit
  of the last digit; ``~`` figures within 10% or one unit, ``<=`` and ranges as bounds), and so
  does plain counting (``params``/``mac``) of the row's configuration;
* **paper's method**: the paper's method gives it, plain counting does not;
* **chosen from this figure**: it matches only through a setting that was chosen to match this
  figure; the text's literal reading does not give it (both values are shown);
* **row-specific**: only another candidate gives it (named): a closeness label, since many
  candidates are tried;
* **within 1%**: the paper's method is within 1% but not within the printed digits (plain
  absolute figures only): a closeness label;
* **block not resolvable at the printed digits**: a figure on a network with a block whose
  verdict the network *without* the block earns as well, so the figure cannot tell the block
  from none (the paper's method explains both; some candidate matches both; both are within 1%);
* **contradicts itself**: nothing gives it and the paper's own other figures disagree with it;
* **unexplained**: nothing gives it; the nearest candidate and its gap are shown.

Only *reproduced* and *paper's method* count as explained (:data:`EXPLAINED`). Every verdict on a
network with a block is asked again of the network with the block removed (:func:`judge` reruns
the same rules on each candidate's outcome without the block): a verdict stands only if it would
fail there, on its own terms. An explained figure must not be explained without the block (the
plain network may still meet a closeness label: another convention, 1%); a closeness label must
not be met at the same strength (:data:`STRENGTH`). The block's own cost is judged apart
(:mod:`recalib.profiling.claims.block_cost`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recalib.profiling.claims.block_cost import BlockCost, judge_block_cost
from recalib.profiling.claims.candidates import Outcome
from recalib.profiling.claims.papers import Claim, acceptance

__all__ = ["ClaimResult", "judge", "explains", "fitted", "text_reading_note", "VERDICTS", "EXPLAINED",
           "UNRESOLVABLE", "STRENGTH"]

UNRESOLVABLE = "block not resolvable at the printed digits"
VERDICTS = ("reproduced", "paper's method", "chosen from this figure", "row-specific", "within 1%", UNRESOLVABLE,
            "contradicts itself", "unexplained", "not measured")
EXPLAINED = ("reproduced", "paper's method")
#: What a verdict claims: 3 explained, 2 matched at the printed digits by something else, 1 within 1%, 0 nothing.
STRENGTH = {"reproduced": 3, "paper's method": 3, "chosen from this figure": 2, "row-specific": 2, "within 1%": 1}


@dataclass
class ClaimResult:
    """A claim's verdict, the outcome behind it, the verdict without the block, and the block's own cost.

    ``method`` is the paper's method's outcome, ``default`` the row's configuration under plain
    counting; ``decided_by`` the outcome that gave the verdict (None when nothing did), ``nearest``
    the closest candidate when nothing did; ``without_block`` the verdict the network without
    the block gets and the outcome that gave it.
    """

    claim: Claim
    verdict: str
    default: Outcome
    method: Outcome | None = None
    decided_by: Outcome | None = None
    nearest: Outcome | None = None
    text: Outcome | None = None
    without_block: tuple[str, Outcome | None] | None = None
    block_cost: BlockCost | None = None
    tried: list[Outcome] = field(default_factory=list)
    problem: str = ""
    derivation: tuple[str, ...] = ()

    @property
    def measured(self) -> Outcome:
        """The outcome every number is reported under: the paper's method (the default where it has none)."""
        return self.method if self.method is not None else self.default

    @property
    def gap_pct(self) -> float | None:
        """The paper's method's value minus the figure, in % of the figure (None for % figures)."""
        value, measured = float(self.claim.figure.value), self.measured.value
        if measured is None or value == 0 or self.claim.figure.unit == "%":
            return None
        return 100.0 * (measured - value) / value


def _text_twin(claim: Claim, outcome: Outcome, tried: Sequence[Outcome]) -> Outcome | None:
    """For a figure a setting was chosen from: the same candidate with the text's literal value."""
    if claim.fit is None:
        return None
    name = next((r.name for r in claim.readings if r.options == {claim.fit.option: claim.fit.text_value}), None)
    if name is None or name in outcome.candidate.readings:
        return None
    wanted = (tuple(sorted((*outcome.candidate.readings, name))), outcome.candidate.convention)
    return next((o for o in tried if (o.candidate.readings, o.candidate.convention) == wanted), None)


def fitted(claim: Claim, outcome: Outcome, tried: Sequence[Outcome]) -> bool:
    """Whether ``outcome`` matches only through a setting chosen to match this very figure."""
    twin = _text_twin(claim, outcome, tried)
    return twin is not None and not twin.exact


def _match(claim: Claim, tried: Sequence[Outcome], method: Outcome | None) -> tuple[str, Outcome | None]:
    """The verdict these outcomes give, before asking it of the network without the block."""
    if method is not None and method.exact:
        if fitted(claim, method, tried):
            return "chosen from this figure", method
        return ("reproduced" if tried[0].exact else "paper's method"), method
    other = next((o for o in tried if o.exact), None)
    if other is not None:
        return ("chosen from this figure" if fitted(claim, other, tried) else "row-specific"), other
    if method is not None and method.loose:
        return "within 1%", method
    return ("contradicts itself" if claim.contradiction else "unexplained"), None


def _without_block(claim: Claim, tried: Sequence[Outcome],
                   method: Outcome | None) -> tuple[str, Outcome | None] | None:
    """The verdict the network without the block gets (None for a claim on no block, or not measured)."""
    if not claim.on_block or all(o.removed is None for o in tried):
        return None
    return _match(claim, [o.without_block() for o in tried], None if method is None else method.without_block())


def explains(claim: Claim, outcome: Outcome, tried: Sequence[Outcome]) -> bool:
    """Whether ``outcome``, as the paper's method, would explain the figure: :func:`judge` would say
    reproduced or paper's method (the method matches, through no setting chosen from this figure,
    and on a block it does not explain the network without the block too)."""
    if not outcome.exact or fitted(claim, outcome, tried):
        return False
    if not claim.on_block:
        return True
    if outcome.removed is None:
        return False
    if not outcome.removed_exact:
        return True
    plain = _without_block(claim, tried, outcome)
    return plain is not None and plain[0] not in EXPLAINED


def judge(claim: Claim, tried: Sequence[Outcome], method: Outcome | None) -> ClaimResult:
    """The verdict; ``tried[0]`` is the default candidate, ``method`` the paper's method's outcome."""
    result = ClaimResult(claim, "not measured", tried[0], method=method, tried=list(tried))
    if all(o.value is None for o in tried):
        return result
    result.verdict, result.decided_by = _match(claim, tried, method)
    strength = STRENGTH.get(result.verdict, 0)
    if strength and claim.on_block:
        result.without_block = _without_block(claim, tried, method)
        if result.without_block is None:
            result.problem = "the network without the block could not be measured"
        if result.without_block is None or STRENGTH.get(result.without_block[0], 0) >= strength:
            result.verdict = UNRESOLVABLE
    if result.decided_by is not None:
        result.text = _text_twin(claim, result.decided_by, tried)
    if result.verdict not in EXPLAINED:
        result.nearest = _nearest(claim, tried)
    chosen = method is not None and fitted(claim, method, tried)
    result.block_cost = judge_block_cost(claim, result.verdict in EXPLAINED, chosen, method)
    return result


def _nearest(claim: Claim, tried: Sequence[Outcome]) -> Outcome | None:
    """The candidate whose value comes closest to the figure's accepted interval."""
    scored = [o for o in tried if o.value is not None]
    if not scored:
        return None
    low, high = acceptance(claim.figure)
    return min(scored, key=lambda o: max(low - (o.value or 0.0), (o.value or 0.0) - high, 0.0))


def text_reading_note(result: ClaimResult) -> str:
    """``"the text's reduction=1 gives 0.30"`` beside a figure a setting was chosen from."""
    fit, text = result.claim.fit, result.text
    if fit is None or text is None or text.value is None:
        return ""
    return f"the text's {fit.option}={fit.text_value} gives {text.value:.4g}"
