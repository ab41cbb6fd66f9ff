"""The claims audit as a report section: per paper, how it counted, and a verdict per figure.

Each paper's part opens with five lines (how it counted and what that explains, the verdicts,
which of its figures on the blocks' own cost hold and which do not, its self-contradictions
and the figures our settings were chosen from), then one table row per distinct figure, then
the work behind every row (configuration built, derivation, tolerance, every candidate tried)
in a collapsed section. The JSON and CSV carry the same, per claim.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from recalib.profiling.claims.papers import Claim, PaperClaims, tolerance
from recalib.profiling.claims.audit import ClaimsAudit
from recalib.profiling.claims.candidates import Outcome
from recalib.profiling.claims.method import Method
from recalib.profiling.claims.verdicts import VERDICTS, ClaimResult, explains, text_reading_note
from recalib.profiling.counting.conventions import CONVENTIONS, MODIFIERS, READINGS

__all__ = ["ClaimsSection"]

_HOLDS = ("reproduced", "paper's method", "row-specific")
_RULES = """Verdicts, strongest first. **reproduced**: the row's configuration (every setting spelled out,
`recalib models --paper P`), counted as `params` (learnable parameters) or `mac` (multiply-adds of
convolutions and linear layers), gives the figure to its printed digits: within half a unit of the
last digit (`~` figures: 10% or one unit; `<=` and ranges as bounds). **chosen from this figure**:
it does, but the setting was chosen to match this figure; the text's literal reading is shown
beside it. **paper's method**: the paper's counting method gives it (the one convention and reading
set that explains the most of the paper's figures). **row-specific**: only another candidate gives
it (named; many candidates are tried, so treat such matches with care). **within 1%**: the row's
configuration (default counting or the paper's method) is within 1% but not the printed digits.
**contradicts itself**: nothing gives it and the paper's own figures disagree with it.
**block untested**: it matches, but also with the block removed, and the paper prints no baseline
row or overhead to test the block with. **unexplained**: nothing gives it (nearest candidate shown).

A figure on a network with a block is also judged on the block's own cost: its *implied delta*
(the row minus the paper's baseline row for the same backbone, tolerance the rounding of both)
against the *measured delta* (the same network with and without the block, same counting). A
figure that would match with the block removed counts only if that delta holds; an overhead the
text states is itself the block's cost."""


def _fmt(value: float | None, claim: Claim, digits: int = 2) -> str:
    """A value with ``digits`` more decimals than the paper printed (whole counts stay whole)."""
    if value is None:
        return "–"
    if claim.figure.unit == "" and claim.relative is None:
        return f"{value:,.0f}"
    decimals = max(0, -int(claim.figure.value.as_tuple().exponent)) + digits
    return f"{value:,.{decimals}f}"


def _unit(claim: Claim) -> str:
    return claim.figure.unit if claim.figure.unit in ("", "%") else f" {claim.figure.unit}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _decided(r: ClaimResult) -> str:
    """What decided the verdict (or came nearest), with its value."""
    c = r.claim
    if r.verdict == "contradicts itself":
        return c.contradiction
    shown = r.decided_by if r.decided_by is not None else r.nearest
    if shown is None or shown.value is None:
        return r.problem
    text = f"{shown.candidate.label} → {_fmt(shown.value, c)}{_unit(c)}"
    if r.decided_by is None:
        value = float(c.figure.value)
        gap = "" if c.figure.unit == "%" or not value else f" ({100.0 * (shown.value - value) / value:+.1f}%)"
        text = f"nearest: {text}{gap}"
    note = text_reading_note(r)
    return f"{text}; {note}" if note and r.verdict == "chosen from this figure" else text


def _block_cost(r: ClaimResult) -> str:
    """The block's own cost: implied vs measured delta and its verdict."""
    c = r.claim
    if not c.on_block:
        return ""
    if c.relative is not None:
        return f"the figure is the block's cost: {r.delta_verdict}"
    if c.implied is None:
        return f"no implied delta ({c.no_delta}); block removed → {_fmt(r.default.removed, c)}{_unit(c)}"
    shown = r.delta_by or r.default
    delta = "–" if shown.delta is None else f"{shown.delta:+,.4g}{_unit(c)} ({shown.candidate.label})"
    return (f"implied {c.implied.value:+,.4g} ± {c.implied.tolerance:.2g}{_unit(c)}, measured {delta}: "
            f"**{r.delta_verdict}**")


class ClaimsSection:
    """Renders a :class:`~recalib.profiling.claims.audit.ClaimsAudit`."""

    key = "claims"
    title = "Claims audit: the papers' figures, and what the blocks themselves cost"
    file_names = ("claims.csv",)

    def __init__(self, audit: ClaimsAudit) -> None:
        self.audit = audit

    def summary(self) -> list[str]:
        results, audit = self.audit.results, self.audit
        printed = sum(len(r.claim.where) for r in results)
        counts = audit.counts()
        sources = [p for p in audit.papers if p.about.kind == "paper"]
        notes = len(audit.papers) - len(sources)
        lines = [f"{len(results)} distinct figures ({printed} as printed, repeats counted once) from {len(sources)} "
                 f"papers" + (f" and {notes} set of our notes on official code" if notes else "") + ": "
                 + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
                 + f" ({audit.models_measured} builds, {audit.seconds:.0f} s)"]
        lines += [self._paper_line(p) for p in audit.papers if p.paper in audit.methods]
        lay = audit.layouts
        lines.append(f"ResNet-50 multiply-adds: {lay['default']:.3f} G in the torchvision layout, "
                     f"{lay['caffe-layout']:.3f} G in the Caffe layout (stride in the first 1×1)")
        missed = ", ".join(f"{op}×{n}" for op, n in audit.unsupported.items())
        lines.append(f"ops without a counting handle: {missed or 'none'}")
        return lines

    def _paper_line(self, paper: PaperClaims) -> str:
        method, results = self.audit.methods[paper.paper], self.audit.of(paper.paper)
        holds, block = _block_split(results)
        counts = Counter(r.verdict for r in results)
        return (f"{paper.paper}: counted {method.label} ({method.explained}/{method.total} figures); "
                + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v])
                + f"; the block's own cost holds for {len(holds)}/{len(block)}")

    def markdown(self) -> str:
        out = [f"## {self.title}", "", _RULES, "", _conventions_md(), ""]
        for paper in self.audit.papers:
            if paper.paper in self.audit.methods:
                out += [self._paper_md(paper), ""]
        return "\n".join(out)

    def _paper_md(self, paper: PaperClaims) -> str:
        results, method = self.audit.of(paper.paper), self.audit.methods[paper.paper]
        about = paper.about
        kind = "a paper" if about.kind == "paper" else "our notes on the official code, not a paper"
        out = [f"### {about.title}", "", f"Source: `{about.source}` ({kind}).", ""]
        out += [f"{i}. {line}" for i, line in enumerate(_five_lines(method, results), 1)] + [""]
        out += [f"What it says about counting: {paper.counting_words}", ""] if paper.counting_words else []
        out += ["| figure | row | paper | measured | verdict | decided by | block's own cost |",
                "|---|---|---|---|---|---|---|"]
        out += [_row_md(r) for r in results]
        out += ["", "<details><summary>The work: configurations, derivations, tolerances, every candidate "
                    "tried</summary>", ""]
        out += [line for r in results for line in _work_md(r)]
        out += ["</details>"]
        skipped = list(paper.not_audited) + _unbuildable(paper)
        if skipped:
            out += ["", "Not audited:", ""] + [f"- {s['where']}: {s['what']} — {s['reason']}" for s in skipped]
        return "\n".join(out)

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "counts": self.audit.counts(), "seconds": self.audit.seconds,
                "resnet50_gmacs": self.audit.layouts, "unsupported_ops": dict(self.audit.unsupported),
                "papers": [self._paper_json(p) for p in self.audit.papers if p.paper in self.audit.methods]}

    def _paper_json(self, paper: PaperClaims) -> dict[str, Any]:
        method = self.audit.methods[paper.paper]
        about = paper.about
        return {"paper": paper.paper, "title": about.title, "source": about.source, "kind": about.kind,
                "counting_words": paper.counting_words,
                "method": {"readings": list(method.readings), "conventions": dict(method.conventions),
                           "explains": method.explained, "figures": method.total,
                           "per_metric": {m: {"explains": n, "figures": t} for m, (n, t) in method.per_metric.items()}},
                "counts": self.audit.counts(paper.paper), "not_audited": list(paper.not_audited),
                "not_buildable": _unbuildable(paper),
                "claims": [_result_json(r) for r in self.audit.of(paper.paper)]}

    def tables(self) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        return {"claims.csv": [_result_row(r) for r in self.audit.results]}


def _unbuildable(paper: PaperClaims) -> list[dict[str, str]]:
    """The table rows that name a network the library does not build, as not-audited entries."""
    return [{"where": f"{r.table}, {r.row}", "what": ", ".join(f"{m} {f}" for m, f in r.figures.items()),
             "reason": r.reason} for r in paper.about.unbuildable]


def _conventions_md() -> str:
    rows = ["| name | counts |", "|---|---|"]
    rows += [f"| `{c.name}` ({c.metric}) | {_cell(c.summary)} |" for c in CONVENTIONS.values()]
    rows += [f"| modifier `+{m.name}` | {_cell(m.summary)} |" for m in MODIFIERS.values()]
    rows += [f"| reading `{r.name}` | {_cell(r.summary)} |" for r in READINGS.values() if r.options]
    return "\n".join(rows)


def _block_split(results: Sequence[ClaimResult]) -> tuple[list[ClaimResult], list[ClaimResult]]:
    """(figures whose block cost holds, figures that can test the block's cost)."""
    block = [r for r in results if r.claim.on_block and r.delta_verdict != "no implied delta"]
    return [r for r in block if r.delta_verdict in _HOLDS], block


def _names(results: Sequence[ClaimResult], limit: int = 8) -> str:
    shown = [f"{r.claim.where[0]} ({r.claim.metric})" for r in results[:limit]]
    more = f" and {len(results) - limit} more" if len(results) > limit else ""
    return "; ".join(shown) + more if shown else "none"


def _five_lines(method: Method, results: Sequence[ClaimResult]) -> list[str]:
    counts = Counter(r.verdict for r in results)
    holds, block = _block_split(results)
    fails = [r for r in block if r not in holds]
    by = Counter(r.delta_verdict for r in holds)
    contradicted = [r for r in results if r.verdict == "contradicts itself"]
    chosen = [r for r in results if r.verdict == "chosen from this figure"]
    row_specific = [r for r in results if r.verdict == "row-specific"]
    fitted = [r for r in chosen if r.method is not None and explains(r.claim, r.method)]
    return [
        f"**How it counted**: {method.label}: explains {method.explained} of its {method.total} distinct figures"
        + (f" ({len(fitted)} of them figures our settings were chosen from)" if fitted else "")
        + (f"; a row-specific choice explains {len(row_specific)} more ({_names(row_specific, 4)})"
           if row_specific else ""),
        "**Verdicts**: " + ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v]),
        (f"**The block's own cost holds** for {len(holds)} of the {len(block)} figures that test it ("
         + ", ".join(f"{n} {v}" for v, n in by.most_common()) + ")") if block else
        "**No figure tests the block's own cost** (no baseline row beside a block row, no stated overhead)",
        f"**It does not hold** for {len(fails)}: {_names(fails)}",
        f"**The paper contradicts itself** in {len(contradicted)}: {_names(contradicted)}; "
        f"**our settings were chosen from** {len(chosen)}: {_names(chosen)}",
    ]


def _row_md(r: ClaimResult) -> str:
    c = r.claim
    figure = "; ".join(c.where) + f" ({c.metric})"
    config = ", ".join(f"`{name.split('/', 1)[1]}`" for name in dict.fromkeys(c.configs))
    measured = _fmt(r.measured, c) + (_unit(c) if r.measured is not None else "")
    cells = [figure, config, c.printed, measured, f"**{r.verdict}**", _decided(r), _block_cost(r)]
    return "| " + " | ".join(_cell(x) for x in cells) + " |"


def _tried_md(r: ClaimResult) -> str:
    """Every candidate tried, those giving the same value grouped."""
    groups: dict[str, list[str]] = {}
    for o in r.tried:
        groups.setdefault(_fmt(o.value, r.claim), []).append(o.candidate.label)
    return " · ".join(f"{', '.join(labels)} → {value}" for value, labels in groups.items())


def _work_md(r: ClaimResult) -> list[str]:
    c = r.claim
    tol = "bounds" if c.figure.qualifier in ("<=", "range") else f"± {tolerance(c.figure):.3g}{_unit(c)}"
    lines = [f"- **{c.id}** ({'; '.join(c.where)}): {c.printed}, tolerance {tol}"]
    lines += [f"  - {_cell(line)}" for line in r.derivation]
    lines += [f"  - note: {_cell(note)}" for note in c.notes]
    lines += [f"  - the paper's own figures: {_cell(c.contradiction)}"] if c.contradiction else []
    lines.append(f"  - {len(r.tried)} candidates tried: {_cell(_tried_md(r))}")
    return lines


def _outcome_json(o: Outcome | None) -> dict[str, Any] | None:
    if o is None:
        return None
    return {"candidate": o.candidate.label, "readings": list(o.candidate.readings),
            "convention": o.candidate.convention,
            "value": o.value, "matches": o.exact, "within_1pct": o.loose, "without_block": o.removed,
            "block_delta": o.delta, "block_delta_holds": o.delta_ok}


def _result_json(r: ClaimResult) -> dict[str, Any]:
    c = r.claim
    block: dict[str, Any] | None = None
    if c.on_block:
        shown = r.delta_by or r.default
        measured = shown.value if c.relative is not None else shown.delta
        implied: dict[str, Any] | None = None
        if c.relative is not None:
            implied = {"value": float(c.figure.value), "stated": c.printed}
        elif c.implied is not None:
            implied = {"value": c.implied.value, "tolerance": c.implied.tolerance, "baseline_row": c.implied.baseline,
                       "baseline_figure": str(c.implied.baseline_figure)}
        block = {"implied_delta": implied, "no_implied_delta": c.no_delta or None,
                 "measured_delta": measured, "measured_by": shown.candidate.label, "delta_verdict": r.delta_verdict}
    return {**_result_row(r), "where": list(c.where), "configs": list(c.configs), "tolerance": tolerance(c.figure),
            "decided_by": _outcome_json(r.decided_by), "method": _outcome_json(r.method),
            "nearest": _outcome_json(r.nearest), "text_reading": _outcome_json(r.text), "block": block,
            "contradiction": c.contradiction or None, "notes": list(c.notes), "derivation": list(r.derivation),
            "tried": [_outcome_json(o) for o in r.tried]}


def _result_row(r: ClaimResult) -> dict[str, Any]:
    c = r.claim
    return {"paper": c.paper, "id": c.id, "appears_in": "; ".join(c.where), "metric": c.metric,
            "relative": c.relative or "", "claimed": c.printed, "value": str(c.figure.value), "unit": c.figure.unit,
            "qualifier": c.figure.qualifier, "measured": r.measured, "gap_pct": r.gap_pct, "verdict": r.verdict,
            "decided_by": r.decided_by.candidate.label if r.decided_by else "",
            "decided_value": r.decided_by.value if r.decided_by else None,
            "delta_verdict": r.delta_verdict if c.on_block else "",
            "implied_delta": c.implied.value if c.implied else None,
            "measured_delta": (r.delta_by or r.default).delta if c.on_block and c.relative is None else None}
