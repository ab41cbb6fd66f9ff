"""``claims-detail.md``: every figure of every paper, with the work behind its verdict.

``report.md`` carries a one-page summary per paper (:mod:`recalib.profiling.claims.report`);
this file carries the rest: the conventions and readings, one table row per distinct figure
(the paper's method's value, the verdict and what decided it, the verdict without the block,
the block's own cost), and per figure the configuration built, the derivation, the tolerance
and every candidate tried, with and without the block.
"""
from __future__ import annotations

from recalib.profiling.claims.audit import ClaimsAudit
from recalib.profiling.claims.papers import PaperClaims, acceptance
from recalib.profiling.claims.report_format import block_cost_text, cell, fmt, gap, shown, unit
from recalib.profiling.claims.verdicts import ClaimResult, text_reading_note
from recalib.profiling.counting.conventions import CONVENTIONS, MODIFIERS

__all__ = ["detail_markdown", "not_audited"]


def detail_markdown(audit: ClaimsAudit) -> str:
    """The whole detail file."""
    out = ["# Claims audit: every figure, and the work behind its verdict", "",
           "The summary, the verdicts and the rules are in `report.md`. Every number here is named by the "
           "candidate (counting convention · readings) that gave it.", "", _conventions_md(), ""]
    for paper in audit.papers:
        if paper.paper in audit.methods:
            out += [_paper_md(audit, paper), ""]
    return "\n".join(out).rstrip() + "\n"


def _conventions_md() -> str:
    rows = ["| convention | counts |", "|---|---|"]
    rows += [f"| `{c.name}` ({c.metric}) | {cell(c.summary)} |" for c in CONVENTIONS.values()]
    rows += [f"| modifier `+{m.name}` | {cell(m.summary)} |" for m in MODIFIERS.values()]
    return "\n".join(rows)


def _paper_md(audit: ClaimsAudit, paper: PaperClaims) -> str:
    method = audit.methods[paper.paper]
    out = [f"## {paper.about.title}", "", f"Counted as {method.label} (the paper's method, applied to every figure).", ""]
    out += ["| figure | row | paper | paper's method | verdict | decided by | without the block | block's own cost |",
            "|---|---|---|---|---|---|---|---|"]
    out += [_row_md(r) for r in audit.of(paper.paper)]
    out += ["", "### The work: configurations, derivations, tolerances, every candidate tried", ""]
    out += [line for r in audit.of(paper.paper) for line in _work_md(r)]
    skipped = not_audited(paper)
    if skipped:
        out += ["", "Not audited:", ""] + [f"- {s['where']}: {s['what']} — {s['reason']}" for s in skipped]
    return "\n".join(out)


def not_audited(paper: PaperClaims) -> list[dict[str, str]]:
    """The figures the audit leaves out, and why: the data's list and the rows the library cannot build."""
    rows = [{"where": f"{r.table}, {r.row}", "what": ", ".join(f"{m} {f}" for m, f in r.figures.items()),
             "reason": r.reason} for r in paper.about.unbuildable]
    return [dict(s) for s in paper.not_audited] + rows


def _decided(r: ClaimResult) -> str:
    """What decided the verdict, or the nearest candidate and its gap when nothing did."""
    if r.verdict == "contradicts itself":
        return r.claim.contradiction
    if r.decided_by is None:
        return f"nearest: {shown(r.nearest, r.claim)}{gap(r.nearest, r.claim)}" if r.nearest else r.problem
    note = text_reading_note(r)
    return shown(r.decided_by, r.claim) + (f"; {note}" if note and r.verdict == "chosen from this figure" else "")


def _without_block(r: ClaimResult) -> str:
    if r.without_block is None:
        return "" if not r.claim.on_block else f"{shown(r.measured, r.claim, without_block=True)}"
    verdict, by = r.without_block
    return f"{verdict}" + (f": {shown(by, r.claim)}" if by is not None else
                           f"; {shown(r.measured, r.claim, without_block=True)}")


def _row_md(r: ClaimResult) -> str:
    c = r.claim
    figure = "; ".join(c.where) + f" ({c.metric})"
    config = ", ".join(f"`{name.split('/', 1)[1]}`" for name in dict.fromkeys(c.configs))
    cells = [figure, config, c.printed, shown(r.measured, c), f"**{r.verdict}**", _decided(r), _without_block(r),
             block_cost_text(r)]
    return "| " + " | ".join(cell(x) for x in cells) + " |"


def _tried_md(r: ClaimResult, without_block: bool) -> str:
    """Every candidate tried, those giving the same value grouped."""
    groups: dict[str, list[str]] = {}
    for o in r.tried:
        groups.setdefault(fmt(o.removed if without_block else o.value, r.claim), []).append(o.candidate.label)
    return " · ".join(f"{', '.join(labels)} → {value}" for value, labels in groups.items())


def _work_md(r: ClaimResult) -> list[str]:
    c = r.claim
    low, high = acceptance(c.figure)
    accepted = f"up to {fmt(high, c)}{unit(c)}" if low == float("-inf") else f"{fmt(low, c)}–{fmt(high, c)}{unit(c)}"
    lines = [f"- **{c.id}** ({'; '.join(c.where)}): {c.printed}, accepted {accepted}"]
    lines += [f"  - {cell(line)}" for line in r.derivation]
    lines += [f"  - note: {cell(note)}" for note in c.notes]
    lines += [f"  - the paper's own figures: {cell(c.contradiction)}"] if c.contradiction else []
    lines.append(f"  - {len(r.tried)} candidates tried: {cell(_tried_md(r, False))}")
    if c.on_block:
        lines.append(f"  - without the block: {cell(_tried_md(r, True))}")
    return lines
