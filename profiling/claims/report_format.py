"""How the claims report writes a number: always in the figure's unit, always beside the candidate behind it."""
from __future__ import annotations

from recalib.profiling.claims.candidates import Outcome
from recalib.profiling.claims.papers import Claim
from recalib.profiling.claims.verdicts import ClaimResult

__all__ = ["fmt", "unit", "cell", "shown", "gap", "block_cost_text", "figure_names"]


def fmt(value: float | None, claim: Claim, digits: int = 2) -> str:
    """A value with ``digits`` more decimals than the paper printed (whole counts stay whole)."""
    if value is None:
        return "–"
    if claim.figure.unit == "" and claim.relative is None:
        return f"{value:,.0f}"
    decimals = max(0, -int(claim.figure.value.as_tuple().exponent)) + digits
    return f"{value:,.{decimals}f}"


def unit(claim: Claim) -> str:
    """The figure's unit as written after a number: ``%``, `` M``, or nothing."""
    return claim.figure.unit if claim.figure.unit in ("", "%") else f" {claim.figure.unit}"


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def shown(outcome: Outcome | None, claim: Claim, without_block: bool = False) -> str:
    """``mac+gates → 3.87 G``: an outcome's value (or its value without the block) named by its candidate."""
    if outcome is None:
        return "–"
    value = outcome.removed if without_block else outcome.value
    return f"`{outcome.candidate.label}` → {fmt(value, claim)}{unit(claim) if value is not None else ''}"


def gap(outcome: Outcome | None, claim: Claim) -> str:
    """``(+1.2%)``: how far an outcome's value is from the figure, in % of the figure ('' for % figures)."""
    value = float(claim.figure.value)
    if outcome is None or outcome.value is None or claim.figure.unit == "%" or not value:
        return ""
    return f" ({100.0 * (outcome.value - value) / value:+.1f}%)"


def block_cost_text(result: ClaimResult) -> str:
    """The block's own cost: the paper's implied cost against the measured one, named, and the verdict."""
    claim, cost = result.claim, result.block_cost
    if cost is None:
        return ""
    if cost.verdict in ("no implied delta", "not measured"):
        return f"**{cost.verdict}**: {cost.note}"
    label = f"`{cost.by.candidate.label}`" if cost.by is not None else "–"
    if claim.relative is not None:
        paper = f"the figure {claim.printed} is the block's cost"
        removed = None if cost.by is None else cost.by.removed
        measured = f"{fmt(cost.measured, claim)}{unit(claim)}, without the block {fmt(removed, claim)}{unit(claim)}"
    else:
        assert claim.implied is not None
        paper = f"implied {claim.implied.value:+,.4g} ± {claim.implied.tolerance:.2g}{unit(claim)}"
        measured = "–" if cost.measured is None else f"{cost.measured:+,.4g}{unit(claim)}"
    note = f" ({cost.note})" if cost.note else ""
    return f"{paper}; measured {measured} ({label}): **{cost.verdict}**{note}"


def figure_names(results: list[ClaimResult], limit: int = 8) -> str:
    """``Table 2, SE (flops); …`` for the first ``limit`` results, and how many more."""
    names = [f"{r.claim.where[0]} ({r.claim.metric})" for r in results[:limit]]
    more = f" and {len(results) - limit} more" if len(results) > limit else ""
    return "; ".join(names) + more if names else "none"
