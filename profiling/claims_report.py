"""The claims audit as a report section: a table per paper, a verdict per claim."""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from profiling.claims import Claim, PaperClaims
from profiling.claims_audit import VERDICTS, ClaimResult, ClaimsAudit, tolerance
from profiling.conventions import CONVENTIONS, PRESETS, READINGS

__all__ = ["ClaimsSection"]

_RULES = ("*reproduced*: the default build, counted as `params` (every learnable parameter) or `mac` "
          "(multiply-adds of conv and linear layers), matches within 1% or within the rounding of the "
          "printed digits; `~` figures within 10% (or one unit of the last digit); `<=` and ranges as "
          "bounds. *explained*: matches under the named convention, paper preset or reading instead. "
          "*unexplained*: nothing matched; the default measurement and its gap are shown.")


def _fmt(value: float | None, claim: Claim) -> str:
    """A measurement with two more decimals than the paper printed."""
    if value is None:
        return "–"
    decimals = max(0, -int(claim.value.as_tuple().exponent)) + 2
    return f"{value:.{decimals}f}"


def _gap(r: ClaimResult) -> str:
    """Measured minus claimed: in % of the figure, or in percentage points for % figures."""
    c = r.claim
    if c.qualifier == "range" or r.measured is None:
        return "–"
    if c.unit == "%":
        return f"{r.measured - float(c.value):+.2f} pts"
    return "–" if r.gap_pct is None else f"{r.gap_pct:+.1f}%"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class ClaimsSection:
    """Renders a :class:`~profiling.claims_audit.ClaimsAudit`."""

    key = "claims"
    title = "Claims audit: every parameter and FLOP figure in the papers"

    def __init__(self, audit: ClaimsAudit) -> None:
        self.audit = audit

    def summary(self) -> list[str]:
        counts, total = self.audit.counts(), len(self.audit.results)
        lines = [f"{total} claims from {len(self.audit.papers)} papers: "
                 + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v] or v != "not measured")
                 + f" ({self.audit.models_measured} builds, {self.audit.seconds:.0f} s)"]
        lines += [self._paper_summary(p) for p in self.audit.papers]
        lay = self.audit.layouts
        lines.append(f"ResNet-50 multiply-adds: {lay['default']:.3f} G in the torchvision layout, "
                     f"{lay['caffe-layout']:.3f} G in the Caffe layout (stride in the first 1×1)")
        missed = ", ".join(f"{op}×{n}" for op, n in self.audit.unsupported.items())
        lines.append(f"ops without a counting handle: {missed or 'none'}")
        return lines

    def _paper_summary(self, paper: PaperClaims) -> str:
        """``ms-sar: 40 reproduced, 17 explained (12 by preset …), 37 unexplained``."""
        counts = self.audit.counts(paper.paper)
        by = Counter(r.explanation.label for r in self.audit.results
                     if r.claim.paper == paper.paper and r.explanation is not None)
        parts = []
        for verdict in VERDICTS:
            if counts[verdict]:
                how = ", ".join(f"{n} by {label}" for label, n in by.most_common())
                parts.append(f"{counts[verdict]} {verdict}" + (f" ({how})" if verdict == "explained" else ""))
        return f"{paper.paper}: " + ", ".join(parts)

    def markdown(self) -> str:
        out = [f"## {self.title}", "", _RULES, "", self._conventions_md(), ""]
        for paper in self.audit.papers:
            out += [self._paper_md(paper), ""]
        return "\n".join(out)

    def _conventions_md(self) -> str:
        rows = ["| name | counts |", "|---|---|"]
        rows += [f"| `{c.name}` ({c.metric}) | {_cell(c.summary)} |" for c in CONVENTIONS.values()]
        rows += [f"| reading `{r.name}` | {_cell(r.summary)} |" for r in READINGS.values() if r.options]
        rows += [f"| preset `{p.name}` | {_cell(p.summary)} |" for p in PRESETS.values()]
        return "\n".join(rows)

    def _paper_md(self, paper: PaperClaims) -> str:
        results = [r for r in self.audit.results if r.claim.paper == paper.paper]
        counts = self.audit.counts(paper.paper)
        out = [f"### {paper.title}", "", f"Source: `{paper.source}`. "
               + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v]) + ".", ""]
        if paper.counting_words:
            out += [f"How the paper counted: {paper.counting_words}", ""]
        out += ["| table | row | model | metric | paper | measured | gap | verdict | explained by |",
                "|---|---|---|---|---|---|---|---|---|"]
        out += [self._row_md(r) for r in results]
        noted = [r.claim for r in results if r.claim.note]
        if noted:
            out += ["", "Notes:", ""] + [f"- {c.table}, {c.row} ({c.metric}): {c.note}" for c in noted]
        if paper.not_audited:
            out += ["", "Not audited:", ""]
            out += [f"- {n['table']}, {n['row']}: {n.get('value', '')} {n.get('unit', '')} "
                    f"({n['metric']}) — {n['reason']}" for n in paper.not_audited]
        return "\n".join(out)

    def _row_md(self, r: ClaimResult) -> str:
        c = r.claim
        model = c.build.describe() + (f" vs {c.baseline.describe()}" if c.baseline else "")
        closest = r.closest() if r.verdict == "unexplained" else None
        if r.explanation is not None:
            why = f"{r.explanation.label} → {_fmt(r.explained_value, c)}"
        elif closest is not None and closest[0] is not r.tried[0][0]:
            why = f"nearest: {closest[0].label} → {_fmt(closest[1], c)}"
        else:
            why = r.problem
        cells = [c.table, c.row, model, c.metric, c.printed, _fmt(r.measured, c), _gap(r),
                 f"**{r.verdict}**", why]
        return "| " + " | ".join(_cell(x) for x in cells) + " |"

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "counts": self.audit.counts(),
                "seconds": self.audit.seconds, "resnet50_gmacs": self.audit.layouts,
                "unsupported_ops": dict(self.audit.unsupported),
                "papers": [self._paper_json(p) for p in self.audit.papers]}

    def _paper_json(self, paper: PaperClaims) -> dict[str, Any]:
        return {"paper": paper.paper, "title": paper.title, "source": paper.source,
                "preset": paper.preset, "counting_words": paper.counting_words,
                "counts": self.audit.counts(paper.paper), "not_audited": list(paper.not_audited),
                "claims": [_result_json(r) for r in self.audit.results if r.claim.paper == paper.paper]}

    def tables(self) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        return {"claims.csv": [_result_row(r) for r in self.audit.results]}


def _result_json(r: ClaimResult) -> dict[str, Any]:
    c = r.claim
    return {**_result_row(r), "baseline": c.baseline.describe() if c.baseline else None,
            "tolerance": tolerance(c), "note": c.note, "problem": r.problem,
            "tried": [{"reading": cand.reading, "convention": cand.convention, "preset": cand.preset,
                       "value": value} for cand, value in r.tried]}


def _result_row(r: ClaimResult) -> dict[str, Any]:
    c = r.claim
    return {"paper": c.paper, "id": c.id, "table": c.table, "row": c.row, "arch": c.build.arch,
            "block": c.build.block or "", "options": dict(c.build.options),
            "stages": list(c.build.stages) if c.build.stages is not None else "",
            "relative": c.relative or "", "metric": c.metric, "claimed": c.printed,
            "value": str(c.value), "unit": c.unit, "qualifier": c.qualifier,
            "measured": r.measured, "gap_pct": r.gap_pct, "verdict": r.verdict,
            "explanation": r.explanation.label if r.explanation else "",
            "explained_value": r.explained_value, "words": c.words}
