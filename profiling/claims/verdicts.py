"""The verdict on one claim, from its outcomes under every candidate way of building and counting.

The outcomes (:mod:`recalib.profiling.claims.candidates`) give the claim's quantity under each
candidate. The verdicts, strongest first (:data:`VERDICTS`):

* **reproduced**: the row's configuration, counted as ``params`` (every learnable parameter)
  or ``mac`` (multiply-adds of convolutions and linear layers), gives the figure to its printed
  digits (within half a unit of the last digit; ``~`` figures within 10% or one unit, ``<=`` and
  ranges as bounds);
* **chosen from this figure**: it does, but the configuration's setting was chosen to match
  this figure and the text's literal reading does not give it (both values are shown);
* **paper's method**: the paper's counting method (the one convention and reading set that
  explains most of its figures, :mod:`recalib.profiling.claims.method`) gives it;
* **row-specific**: only another candidate gives it (named);
* **within 1%**: the configuration (default counting or the paper's method) is within 1% but
  not within the printed digits (plain absolute figures only);
* **contradicts itself**: nothing gives it and the paper's own other figures disagree with it;
* **block untested**: a candidate gives it, but also without the block, and the paper prints
  nothing to test the block's own cost with;
* **unexplained**: nothing gives it; the nearest candidate and its gap are shown.

The block's own cost decides for a figure on a network with a block: when the figure would
match with the block removed, it counts as matched only if the block's measured delta agrees
with the paper's implied delta (its row minus its baseline row) within the rounding of both.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from recalib.profiling.claims.papers import Claim
from recalib.profiling.claims.candidates import Outcome

__all__ = ["ClaimResult", "judge", "explains", "text_reading_note", "VERDICTS", "DELTA_VERDICTS"]

VERDICTS = ("reproduced", "chosen from this figure", "paper's method", "row-specific", "within 1%",
            "contradicts itself", "block untested", "unexplained", "not measured")
DELTA_VERDICTS = ("reproduced", "paper's method", "row-specific", "unexplained", "no implied delta")


@dataclass
class ClaimResult:
    """A claim's verdict, the outcome that decided it, and the block's own verdict."""

    claim: Claim
    verdict: str
    default: Outcome
    decided_by: Outcome | None = None
    method: Outcome | None = None
    nearest: Outcome | None = None
    text: Outcome | None = None
    delta_verdict: str = "no implied delta"
    delta_by: Outcome | None = None
    tried: list[Outcome] = field(default_factory=list)
    problem: str = ""
    derivation: tuple[str, ...] = ()

    @property
    def measured(self) -> float | None:
        """The row's configuration under the default counting."""
        return self.default.value

    @property
    def gap_pct(self) -> float | None:
        """Default measurement minus the figure, in % of the figure (None for % figures)."""
        value = float(self.claim.figure.value)
        if self.measured is None or value == 0 or self.claim.figure.unit == "%":
            return None
        return 100.0 * (self.measured - value) / value


def explains(claim: Claim, outcome: Outcome, loose: bool = False) -> bool:
    """Whether the outcome gives the figure and, on a block, does not owe it to the backbone alone."""
    hit = outcome.loose if loose else outcome.exact
    if not hit or claim.relative is not None or claim.build.block is None:
        return hit
    return not (outcome.removed_loose if loose else outcome.removed_exact) or bool(outcome.delta_ok)


def _untested(claim: Claim, outcome: Outcome) -> bool:
    """Matches, but so does the network without the block, and no implied delta can test the block."""
    return (claim.relative is None and claim.build.block is not None and claim.implied is None
            and ((outcome.exact and outcome.removed_exact) or (outcome.loose and outcome.removed_loose)))


def judge(claim: Claim, tried: Sequence[Outcome], method: Outcome | None) -> ClaimResult:
    """The verdict; ``tried[0]`` is the default candidate, ``method`` the paper's method's outcome."""
    default = tried[0]
    result = ClaimResult(claim, "not measured", default, method=method, tried=list(tried))
    if default.value is None:
        return result
    found = _first_explaining(claim, default, method, tried)
    if found is not None:
        result.verdict, result.decided_by = found
        result.text = _text_reading(claim, result.decided_by, tried)
        if result.text is not None and result.text.value is not None and not result.text.exact:
            result.verdict = "chosen from this figure"
    elif explains(claim, default, loose=True) or (method is not None and explains(claim, method, loose=True)):
        result.verdict = "within 1%"
        result.decided_by = default if explains(claim, default, loose=True) else method
    elif claim.contradiction:
        result.verdict = "contradicts itself"
    elif any(_untested(claim, o) for o in tried):
        result.verdict = "block untested"
        result.decided_by = next(o for o in tried if _untested(claim, o))
    else:
        result.verdict = "unexplained"
    result.nearest = _nearest(claim, tried)
    result.delta_verdict, result.delta_by = _delta_verdict(claim, result, tried, method)
    return result


def _first_explaining(claim: Claim, default: Outcome, method: Outcome | None,
                      tried: Sequence[Outcome]) -> tuple[str, Outcome] | None:
    if explains(claim, default):
        return "reproduced", default
    if method is not None and explains(claim, method):
        return "paper's method", method
    other = next((o for o in tried if explains(claim, o)), None)
    return None if other is None else ("row-specific", other)


def _text_reading(claim: Claim, decided: Outcome, tried: Sequence[Outcome]) -> Outcome | None:
    """For a figure a setting was chosen from: the same candidate with the text's literal value."""
    if claim.fit is None:
        return None
    name = next((r.name for r in claim.readings if r.options == {claim.fit.option: claim.fit.text_value}), None)
    if name is None or name in decided.candidate.readings:
        return None
    wanted = (tuple(sorted((*decided.candidate.readings, name))), decided.candidate.convention)
    return next((o for o in tried if (o.candidate.readings, o.candidate.convention) == wanted), None)


def _nearest(claim: Claim, tried: Sequence[Outcome]) -> Outcome | None:
    scored = [o for o in tried if o.value is not None]
    if not scored:
        return None
    low = float(claim.figure.value)
    high = float(claim.figure.value_max) if claim.figure.value_max is not None else low
    return min(scored, key=lambda o: 0.0 if low <= (o.value or 0.0) <= high
               else min(abs((o.value or 0.0) - low), abs((o.value or 0.0) - high)))


def _delta_verdict(claim: Claim, result: ClaimResult, tried: Sequence[Outcome],
                   method: Outcome | None) -> tuple[str, Outcome | None]:
    """The block's own cost: a relative claim is its own delta; a row is judged on its implied delta."""
    if claim.relative is not None:
        mirror = {"reproduced": "reproduced", "chosen from this figure": "reproduced",
                  "paper's method": "paper's method", "row-specific": "row-specific"}
        return mirror.get(result.verdict, "unexplained"), result.decided_by
    if claim.implied is None:
        return "no implied delta", None
    if tried[0].delta_ok:
        return "reproduced", tried[0]
    if method is not None and method.delta_ok:
        return "paper's method", method
    other = next((o for o in tried if o.delta_ok), None)
    if other is not None:
        return "row-specific", other
    implied = claim.implied.value
    near = min((o for o in tried if o.delta is not None), key=lambda o: abs((o.delta or 0.0) - implied), default=None)
    return "unexplained", near


def text_reading_note(result: ClaimResult) -> str:
    """``"text's literal reduction=1: 0.30"`` beside a figure a setting was chosen from."""
    fit, text = result.claim.fit, result.text
    if fit is None or text is None or text.value is None:
        return ""
    return f"the text's {fit.option}={fit.text_value} gives {text.value:.4g}"
