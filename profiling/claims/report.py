"""The claims audit as a report section: one page per paper in ``report.md``, the rest beside it.

Each paper's page says how it counted (the one method, the readings its text allows and which
the method uses), how many of its figures are explained, matched only by a closeness label,
not resolvable at the printed digits or unexplained, and whether the block's own cost holds;
then the figures where it fails and every unexplained figure with its nearest candidate.
Every figure with the work behind it is in ``claims-detail.md``
(:mod:`recalib.profiling.claims.report_detail`); ``report.json`` and ``claims.csv`` carry the
numbers (:mod:`recalib.profiling.claims.report_data`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from recalib.profiling.claims.audit import ClaimsAudit
from recalib.profiling.claims.block_cost import BLOCK_COST
from recalib.profiling.claims.papers import PaperClaims
from recalib.profiling.claims.report_data import csv_row, section_json
from recalib.profiling.claims.report_detail import detail_markdown
from recalib.profiling.claims.report_format import block_cost_text, cell, gap, shown
from recalib.profiling.claims.verdicts import EXPLAINED, UNRESOLVABLE, VERDICTS, ClaimResult

__all__ = ["ClaimsSection", "DETAIL"]

DETAIL = "claims-detail.md"
_RULES = f"""One method per paper (one counting convention per metric and one set of readings, the one that
explains the most of its figures) is applied to every figure, the block's own cost included.
**Explained** means *reproduced* (the method gives the figure to its printed digits, and so does
plain `params`/`mac` counting) or *paper's method* (only the method does). *Chosen from this
figure* (a setting was chosen to match it), *row-specific* (only another candidate gives it) and
*within 1%* are closeness labels, not explanations. Every verdict on a network with a block is
asked again of the network without the block: a figure the plain network earns as well is
*{UNRESOLVABLE}*. The block's own cost (the paper's implied delta, or a relative figure,
against the measured one under the method) **holds** only where the paper's digits exclude a block
that costs nothing, the method uses no setting chosen from that figure and the figure is explained.
Every figure, with the work behind it: `{DETAIL}`."""


def _count_text(counts: Mapping[str, int], names: Sequence[str]) -> str:
    return ", ".join(f"{counts[v]} {v}" for v in names if counts.get(v))


class ClaimsSection:
    """Renders a :class:`~recalib.profiling.claims.audit.ClaimsAudit`."""

    key = "claims"
    title = "Claims audit: the papers' figures, and what the blocks themselves cost"
    file_names = ("claims.csv", DETAIL)

    def __init__(self, audit: ClaimsAudit) -> None:
        self.audit = audit

    def summary(self) -> list[str]:
        audit = self.audit
        printed = sum(len(r.claim.where) for r in audit.results)
        counts = audit.counts()
        sources = [p for p in audit.papers if p.about.kind == "paper"]
        notes = len(audit.papers) - len(sources)
        explained = sum(counts[v] for v in EXPLAINED)
        lines = [f"{len(audit.results)} distinct figures ({printed} as printed, repeats counted once) from "
                 f"{len(sources)} papers" + (f" and {notes} set of our notes on official code" if notes else "")
                 + f": {explained} explained ({_count_text(counts, EXPLAINED) or 'none'}); "
                 + (_count_text(counts, [v for v in VERDICTS if v not in EXPLAINED]) or "nothing else")
                 + f" ({audit.models_measured} builds, {audit.seconds:.0f} s)",
                 "the block's own cost: " + _count_text(audit.block_counts(), BLOCK_COST)]
        lines += [self._paper_line(p) for p in audit.papers if p.paper in audit.methods]
        lay = audit.layouts
        lines.append(f"ResNet-50 multiply-adds: {lay['default']:.3f} G in the torchvision layout, "
                     f"{lay['caffe-layout']:.3f} G in the Caffe layout (stride in the first 1×1)")
        missed = ", ".join(f"{op}×{n}" for op, n in audit.unsupported.items())
        lines.append(f"ops without a counting handle: {missed or 'none'}")
        return lines

    def _paper_line(self, paper: PaperClaims) -> str:
        method, cost = self.audit.methods[paper.paper], self.audit.block_counts(paper.paper)
        return (f"{paper.paper}: counted {method.label}: explains {method.explained}/{method.total} figures; "
                f"block's own cost holds for {cost['holds']}, fails for {cost['fails']}, "
                f"unresolvable for {cost['unresolvable']}")

    def markdown(self) -> str:
        out = [f"## {self.title}", "", _RULES, ""]
        for paper in self.audit.papers:
            if paper.paper in self.audit.methods:
                out += [self._paper_md(paper), ""]
        return "\n".join(out)

    def _paper_md(self, paper: PaperClaims) -> str:
        results, method = self.audit.of(paper.paper), self.audit.methods[paper.paper]
        about, counts, cost = paper.about, self.audit.counts(paper.paper), self.audit.block_counts(paper.paper)
        kind = "a paper" if about.kind == "paper" else "our notes on the official code, not a paper"
        explained = sum(counts[v] for v in EXPLAINED)
        on_block = sum(cost.values())
        out = [f"### {about.title}", "", f"Source: `{about.source}` ({kind}).", "",
               f"- **Counted** {method.label} (the paper's method). {self._readings(paper)}",
               f"- **Figures**: {len(results)}; **explained {explained}** ({_count_text(counts, EXPLAINED) or 'none'}); "
               + (_count_text(counts, [v for v in VERDICTS if v not in EXPLAINED]) or "nothing else"),
               f"- **The block's own cost** ({on_block} figures on a block): " + (_count_text(cost, BLOCK_COST) or "–")]
        if paper.counting_words:
            out.append(f"- What it says about counting: {paper.counting_words}")
        out += self._fails(results) + self._unexplained(results)
        return "\n".join(out)

    def _readings(self, paper: PaperClaims) -> str:
        method = self.audit.methods[paper.paper]
        names = sorted({r.name for c in paper.claims for r in c.readings})
        if not names:
            return "The texts state no other reading."
        used = [f"`{n}`" for n in names if n in method.readings]
        unused = [f"`{n}`" for n in names if n not in method.readings]
        return (f"Readings the texts allow: {', '.join(used) or 'none'} used, {', '.join(unused) or 'none'} "
                f"not used (what each rests on: `{DETAIL}`).")

    @staticmethod
    def _fails(results: Sequence[ClaimResult]) -> list[str]:
        fails = [r for r in results if r.block_cost is not None and r.block_cost.verdict == "fails"]
        if not fails:
            return []
        rows = ["", "Where the block's own cost fails:", "", "| figure | paper | block's own cost |", "|---|---|---|"]
        return rows + [f"| {cell(r.claim.where[0])} ({r.claim.metric}) | {r.claim.printed} | "
                       f"{cell(block_cost_text(r))} |" for r in fails]

    @staticmethod
    def _unexplained(results: Sequence[ClaimResult]) -> list[str]:
        missed = [r for r in results if r.verdict in ("unexplained", "contradicts itself")]
        if not missed:
            return []
        rows = ["", "Unexplained, with the nearest candidate:", "", "| figure | paper | nearest | verdict |",
                "|---|---|---|---|"]
        return rows + [f"| {cell(r.claim.where[0])} ({r.claim.metric}) | {r.claim.printed} | "
                       f"{cell(shown(r.nearest, r.claim) + gap(r.nearest, r.claim))} | {r.verdict} |" for r in missed]

    def to_json(self) -> dict[str, Any]:
        return section_json(self.audit, self.summary())

    def tables(self) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        return {"claims.csv": [csv_row(r) for r in self.audit.results]}

    def files(self) -> Mapping[str, bytes]:
        return {DETAIL: detail_markdown(self.audit).encode("utf-8")}
