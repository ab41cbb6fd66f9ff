"""The claims audit for machines: ``report.json``'s section and ``claims.csv``, every number named by its candidate.

Each figure is written once, with the paper's method's value (``measured``, with and without the
block; the block's own cost is measured under the same candidate), the candidate that decided its
verdict (or came nearest), the verdict the network without the block gets, and the block's own
cost; each note is written once per paper (its ``notes``), and a claim lists its notes' indices. Every candidate tried is kept, compactly: per reading set, one value per convention of
the metric (the section lists the conventions once), with and without the block; values carry
nine significant digits (exact for every count the papers print).
"""
from __future__ import annotations

from typing import Any

from recalib.profiling.claims.audit import ClaimsAudit
from recalib.profiling.claims.candidates import Outcome
from recalib.profiling.claims.papers import PaperClaims, acceptance
from recalib.profiling.claims.report_detail import not_audited
from recalib.profiling.claims.verdicts import ClaimResult
from recalib.profiling.counting.conventions import conventions_for

__all__ = ["section_json", "csv_row", "CONVENTION_ORDER"]

#: The order of the per-convention values in every claim's ``tried`` (report.json's ``conventions``).
CONVENTION_ORDER = {metric: [c.name for c in conventions_for(metric)] for metric in ("params", "flops")}


def _number(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.9g}")


def _outcome(o: Outcome | None, without_block: bool = False) -> dict[str, Any] | None:
    """``{"candidate": label, "value": v}`` (``without_block``: also the value without the block)."""
    if o is None:
        return None
    plain = {"without_block": _number(o.removed)} if without_block else {}
    return {"candidate": o.candidate.label, "value": _number(o.value), **plain}


def _tried(r: ClaimResult, without_block: bool) -> dict[str, list[float | None]]:
    """Reading set label (``""``: the row as configured) → one value per convention, in :data:`CONVENTION_ORDER`."""
    order = CONVENTION_ORDER[r.claim.metric]
    table: dict[str, list[float | None]] = {}
    for o in r.tried:
        row = table.setdefault(" · ".join(o.candidate.readings), [None] * len(order))
        row[order.index(o.candidate.convention)] = _number(o.removed if without_block else o.value)
    return table


def _block_cost(r: ClaimResult) -> dict[str, Any] | None:
    cost, claim = r.block_cost, r.claim
    if cost is None:
        return None
    implied = claim.implied
    paper = float(claim.figure.value) if claim.relative else None if implied is None else _number(implied.value)
    return {"verdict": cost.verdict, "note": cost.note or None, "implied": paper,
            "implied_tolerance": None if claim.relative or implied is None else _number(implied.tolerance),
            "baseline_row": None if implied is None else implied.baseline, "measured": _number(cost.measured)}


def _claim_json(r: ClaimResult, notes: list[str]) -> dict[str, Any]:
    c = r.claim
    plain = None if r.without_block is None else {"verdict": r.without_block[0], **(_outcome(r.without_block[1]) or {})}
    data: dict[str, Any] = {
        "id": c.id, "where": list(c.where), "configs": list(c.configs), "metric": c.metric, "relative": c.relative,
        "printed": c.printed, "accepted": [_number(v) if abs(v) != float("inf") else None for v in acceptance(c.figure)],
        "verdict": r.verdict, "measured": _outcome(r.measured, without_block=c.on_block),
        "decided_by": _outcome(r.decided_by), "nearest": _outcome(r.nearest), "text_reading": _outcome(r.text),
        "without_block": plain, "block_cost": _block_cost(r), "contradiction": c.contradiction or None,
        "notes": [notes.index(note) for note in c.notes], "problem": r.problem or None, "tried": _tried(r, False)}
    if c.on_block:
        data["tried_without_block"] = _tried(r, True)
    return data


def _paper_json(audit: ClaimsAudit, paper: PaperClaims) -> dict[str, Any]:
    method, about = audit.methods[paper.paper], paper.about
    used = set(method.readings)
    notes = list(dict.fromkeys(note for r in audit.of(paper.paper) for note in r.claim.notes))
    readings = {r.name: r for r in paper.readings}
    readings.update({r.name: r for c in paper.claims for r in c.readings})
    return {"paper": paper.paper, "title": about.title, "source": about.source, "kind": about.kind,
            "counting_words": paper.counting_words,
            "method": {"readings": list(method.readings), "conventions": dict(method.conventions),
                       "explains": method.explained, "figures": method.total,
                       "per_metric": {m: {"explains": n, "figures": t} for m, (n, t) in method.per_metric.items()}},
            "readings": [{"name": r.name, "summary": r.summary, "words": r.words, "used_by_method": r.name in used}
                         for r in readings.values()],
            "counts": audit.counts(paper.paper), "block_cost": audit.block_counts(paper.paper),
            "not_audited": not_audited(paper),
            "notes": notes, "claims": [_claim_json(r, notes) for r in audit.of(paper.paper)]}


def section_json(audit: ClaimsAudit, summary: list[str]) -> dict[str, Any]:
    """The claims section of ``report.json``."""
    return {"summary": summary, "counts": audit.counts(), "block_cost": audit.block_counts(),
            "seconds": audit.seconds, "resnet50_gmacs": audit.layouts, "unsupported_ops": dict(audit.unsupported),
            "conventions": CONVENTION_ORDER,
            "papers": [_paper_json(audit, p) for p in audit.papers if p.paper in audit.methods]}


def csv_row(r: ClaimResult) -> dict[str, Any]:
    """One ``claims.csv`` row: every number beside the column naming the candidate that gave it."""
    c, cost = r.claim, r.block_cost
    plain_verdict, plain_by = r.without_block or ("", None)
    pick = r.decided_by or r.nearest
    return {"paper": c.paper, "id": c.id, "appears_in": "; ".join(c.where), "metric": c.metric,
            "relative": c.relative or "", "claimed": c.printed, "value": str(c.figure.value), "unit": c.figure.unit,
            "qualifier": c.figure.qualifier, "verdict": r.verdict,
            "measured": r.measured.value, "measured_by": r.measured.candidate.label, "gap_pct": r.gap_pct,
            "measured_without_block": r.measured.removed if c.on_block else None,
            "decided_or_nearest": "decided" if r.decided_by else ("nearest" if r.nearest else ""),
            "candidate": pick.candidate.label if pick else "", "candidate_value": pick.value if pick else None,
            "without_block_verdict": plain_verdict, "without_block_by": plain_by.candidate.label if plain_by else "",
            "without_block_value": plain_by.value if plain_by else None,
            "block_cost": cost.verdict if cost else "",
            "implied_delta": c.implied.value if c.implied else (float(c.figure.value) if c.relative and cost else None),
            "implied_tolerance": c.implied.tolerance if c.implied else None,
            "measured_delta": cost.measured if cost else None,
            "measured_delta_by": cost.by.candidate.label if cost and cost.by else ""}
