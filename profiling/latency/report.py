"""The latency audit as a report section: parameter, FLOP and latency overheads side by side.

Overheads are always against the plain backbone: parameters and FLOPs as built (before
folding), latency against the plain backbone timed in the same run on the same runtime and
exported the same way. A *series* is one runtime and export variant (``ort-cpu``,
``ort-cpu optimized``, ``torch-eager``), so a table column is a series at one batch size.
Per block and batch, the series where the block costs least (the smallest median overhead, its
interval apart from every other's: :meth:`~recalib.profiling.latency.audit.ArchAudit.least`) is
named in the table, the summary, ``latency.csv`` (``least_overhead``) and ringed in the plot;
where intervals overlap the tie is listed instead (``tied_for_least``). A noisy series
(:mod:`recalib.deploy.stability`) is marked ``NOISY`` in the tables and the summary, with its
reasons in ``latency.csv`` (``noisy``, ``noise``), and drawn hollow in the plots.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from recalib.deploy.report import NOISY, noise_lines
from recalib.profiling.latency.audit import BASELINE, ArchAudit, LatencyAudit, LatencyRecord, ModelCost, overhead_pct

__all__ = ["LatencySection", "PLOTS"]

PLOTS = {"latency_vs_flops.png": "FLOP overhead against latency overhead, per block",
         "latency_by_runtime.png": "median latency per runtime (min–p90 whiskers); hollow bars: noisy"}


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:+.{digits}f}%"


def _noisy(record: LatencyRecord) -> str:
    return f" {NOISY}" if record.measurement.noisy else ""


def _latency_cell(record: LatencyRecord | None) -> str:
    if record is None:
        return "–"
    interval = record.measurement.interval_pct()
    if record.measurement.overhead_pct is None or interval is None:
        return f"{record.measurement.stats.p50_ms:.2f} ms{_noisy(record)}"
    runs = record.measurement.repeat_range()
    repeats = "" if runs is None else f", runs {runs[0]:+.1f} to {runs[1]:+.1f}"
    return f"{record.measurement.overhead_pct:+.1f}% [{interval[0]:+.1f}, {interval[1]:+.1f}{repeats}]{_noisy(record)}"


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3f} {prefix}{unit}"
    return f"{value:.0f} {unit}"


class LatencySection:
    """Renders a :class:`~recalib.profiling.latency.audit.LatencyAudit`."""

    key = "latency"
    title = "Latency audit: parameter, FLOP and latency overhead of each block"
    file_names = ("costs.csv", "latency.csv", *PLOTS)

    def __init__(self, audit: LatencyAudit) -> None:
        self.audit = audit

    def _columns(self, arch: ArchAudit) -> list[tuple[str, int]]:
        """(series, batch) pairs measured for ``arch``: by batch, then in measurement order."""
        pairs = list(dict.fromkeys((r.series, r.batch) for r in arch.records))
        return sorted(pairs, key=lambda pair: pair[1])

    def _lookup(self, arch: ArchAudit) -> dict[tuple[str, int, str], LatencyRecord]:
        return {(r.series, r.batch, r.model): r for r in arch.records}

    def summary(self) -> list[str]:
        a = self.audit
        n_models = sum(len(arch.costs) for arch in a.archs)
        lines = [f"{n_models} models on {len(a.archs)} architectures, timed on "
                 f"{', '.join(t.name for t in a.targets)} at batch {', '.join(map(str, a.plan.batches))} "
                 f"({a.seconds:.0f} s; {a.machine.cpu}, {_threads(a)}, load average {a.machine.load_average} at start)"]
        for arch in a.archs:
            lines += self._arch_summary(arch)
        if a.skipped:
            lines.append(f"skipped (not available here; the report says how to enable them): "
                         f"{', '.join(a.skipped)}")
        noisy = sum(r.measurement.noisy for arch in a.archs for r in arch.records)
        if noisy:
            lines.append(f"{noisy} of {sum(len(arch.records) for arch in a.archs)} series are {NOISY} (the report "
                         f"says why): read them as the machine's state, not as the blocks' cost")
        if a.failures:
            lines.append(f"{len(a.failures)} measurements failed (see 'Not measured')")
        return lines

    def _arch_summary(self, arch: ArchAudit) -> list[str]:
        """One line per block at the smallest batch: FLOP overheads, then each series' latency."""
        base = _base_cost(arch)
        batch = min(self.audit.plan.batches)
        lookup, cols = self._lookup(arch), [s for s, b in self._columns(arch) if b == batch]
        lines = []
        for cost in arch.costs:
            if cost.label == BASELINE or base is None:
                continue
            cells = [f"{s} {_pct(lookup[(s, batch, cost.label)].measurement.overhead_pct, 0)}"
                     f"{_noisy(lookup[(s, batch, cost.label)])}" for s in cols if (s, batch, cost.label) in lookup]
            least = _least(arch, batch, cost.label)
            lines.append(f"{arch.arch} + {cost.label}: FLOPs {_pct(overhead_pct(cost.macs, base.macs), 2)} "
                         f"(mac) / {_pct(overhead_pct(cost.macs_all, base.macs_all), 2)} (all ops); "
                         f"latency at batch {batch}: {', '.join(cells) or 'not measured'}"
                         + ("" if least == "–" else f"; least {'' if least.startswith('tie') else 'on '}{least}"))
        return lines

    def markdown(self) -> str:
        out = [f"## {self.title}", "", self._method(), "", self._runtimes_md(), ""]
        for arch in self.audit.archs:
            out += [self._arch_md(arch), ""]
        noise = noise_lines([r.measurement for arch in self.audit.archs for r in arch.records])
        if noise:
            out += ["### Noisy measurements", "", *[f"- {line}" for line in noise], ""]
        out += [f"![{caption}]({name})\n\n*{name}: {caption}.*\n" for name, caption in PLOTS.items()]
        if self.audit.failures:
            out += ["### Not measured", ""]
            out += [f"- {f.arch}, {f.stage}, {f.what}: {f.error}" for f in self.audit.failures]
        return "\n".join(out)

    def _method(self) -> str:
        a, m = self.audit, self.audit.machine
        rounds = ", ".join(f"{a.plan.rounds(b)} ({a.plan.warmup_rounds(b)}) at batch {b}" for b in a.plan.batches)
        return (
            "Random weights (seed 0) with batch-norm statistics from one batch of random inputs, eval "
            "mode. *Params*: every learnable parameter. *FLOPs*: "
            "multiply-adds at batch 1 of the model as built, as `mac` (convolutions and linear layers, "
            "the papers' convention) and `mac-all` (also pooling, activations, element-wise work, resizes "
            "and batch norm). *Latency*: median over timed rounds in which the models alternate "
            "(A B C … A B C …) in one worker process per runtime, after each runtime's output was judged "
            f"against the float64 PyTorch model (tolerance {a.plan.tolerance:g}, or no further than 2x "
            "float32 PyTorch); "
            f"timed (and warm-up) rounds: {rounds}. The overhead is the ratio of medians against the plain "
            "backbone timed in the same run (exported the same way), with a 95% paired-bootstrap interval. "
            "onnxruntime's threads spin while a run is in flight and stop when it returns. "
            "ONNX runtimes run the verified export (`recalib.export.to_onnx`, folded); torch runtimes run "
            "`recalib.fold(model)`, the same inference rewrite. Latency overheads from a busy machine "
            "stay comparable within their run; absolute times do not. A few percent is within the "
            "resolution of one run: compare a block with the intervals, and with a block that folds "
            "away entirely (`cc-static-scalar`, the same graph as the plain model) where one is measured.\n\n"
            f"Machine: {m.cpu}, {m.cores_available} cores available, {_threads(a)} per model; "
            f"load average {m.load_average} at start, {a.load_end} at end; {m.versions()}.")

    def _runtimes_md(self) -> str:
        a = self.audit
        lines = [f"Runtimes measured: {', '.join(f'`{t.name}`' for t in a.targets) or 'none'}."]
        lines += [f"- `{name}` skipped: {why}" for name, why in a.skipped.items()]
        exports = ", ".join(f"`{v}`" for v in a.variants) or "none (no ONNX runtime)"
        lines.append(f"\nONNX exports timed: {exports}."
                     + "".join(f" `{v}`: {why}." for v, why in a.variant_notes.items()))
        return "\n".join(lines)

    def _arch_md(self, arch: ArchAudit) -> str:
        c, h, w = arch.input_chw
        head = f"### {arch.arch} ({c}×{h}×{w})"
        base = _base_cost(arch)
        if base is None:
            return f"{head}\n\nThe plain backbone could not be built; see 'Not measured'."
        cols = self._columns(arch)
        lookup = self._lookup(arch)
        nodes = "ONNX nodes" + (f" ({' / '.join(arch.exports)})" if len(arch.exports) > 1 else "")
        batches = list(dict.fromkeys(b for _, b in cols))
        names = ["block", "params", "Δ params", "Δ FLOPs (mac)", "Δ FLOPs (mac-all)", nodes]
        names += [f"{s} b{b}" for s, b in cols] + [f"least overhead b{b}" for b in batches]
        rows = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
        for cost in arch.costs:
            cells = self._cost_cells(arch, cost, base)
            cells += [_latency_cell(lookup.get((s, b, cost.label))) for s, b in cols]
            cells += [_least(arch, b, cost.label) if cost is not base else "" for b in batches]
            rows.append("| " + " | ".join(cells) + " |")
        note = ("Latency cells: overhead against the plain backbone timed in the same rounds [95% interval"
                "; with repeat runs, the least and greatest run's overhead]; the plain row gives its median; "
                f"{NOISY}: see 'Noisy measurements'. *Least overhead*: the runtime and export where the block "
                "costs least, named only when its interval is apart from every other's; otherwise the tie. "
                "Plain model: "
                f"{_si(base.params, '')} params, {_si(base.macs, 'MAC')} (mac), {_si(base.macs_all, 'MAC')} (mac-all).")
        return "\n".join([head, "", note, "", *rows, "", self._absolute_md(arch, cols, lookup)])

    def _cost_cells(self, arch: ArchAudit, cost: ModelCost, base: ModelCost) -> list[str]:
        nodes = " / ".join(str(forms[cost.label].nodes) if cost.label in forms else "–"
                           for forms in arch.exports.values()) or "–"
        if cost is base:
            return [f"`{BASELINE}` (plain)", f"{cost.params:,}", "", "", "", nodes]
        return [f"`{cost.label}`", f"{cost.params:,}", _pct(overhead_pct(cost.params, base.params), 2),
                _pct(overhead_pct(cost.macs, base.macs), 2), _pct(overhead_pct(cost.macs_all, base.macs_all), 2),
                nodes]

    def _absolute_md(self, arch: ArchAudit, cols: list[tuple[str, int]],
                     lookup: Mapping[tuple[str, int, str], LatencyRecord]) -> str:
        """Median latency (min–p90) per model and column."""
        rows = ["Median latency in ms (min–p90):", "",
                "| model | " + " | ".join(f"{s} b{b}" for s, b in cols) + " |", "|" + "---|" * (len(cols) + 1)]
        for cost in arch.costs:
            cells = []
            for s, b in cols:
                r = lookup.get((s, b, cost.label))
                t = None if r is None else r.measurement.stats
                cells.append("–" if r is None or t is None
                             else f"{t.p50_ms:.2f} ({t.min_ms:.2f}–{t.p90_ms:.2f}){_noisy(r)}")
            rows.append(f"| `{cost.label}` | " + " | ".join(cells) + " |")
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        a = self.audit
        plan = {**asdict(a.plan), "targets": [t.name for t in a.plan.targets]}
        return {"summary": self.summary(), "plan": plan, "machine": a.machine.to_dict(), "load_average_end": a.load_end,
                "seconds": a.seconds, "targets": [t.name for t in a.targets], "skipped": a.skipped,
                "exports": a.variants, "export_notes": a.variant_notes,
                "failures": [asdict(f) for f in a.failures],
                "archs": [{"arch": arch.arch, "input_chw": list(arch.input_chw),
                           "costs": [asdict(c) for c in arch.costs],
                           "exports": {v: {label: asdict(e) for label, e in infos.items()}
                                       for v, infos in arch.exports.items()},
                           "records": [r.row() for r in arch.records]} for arch in a.archs]}

    def tables(self) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        return {"costs.csv": [row for arch in self.audit.archs for row in _cost_rows(arch)],
                "latency.csv": [_latency_row(arch, r) for arch in self.audit.archs for r in arch.records]}

    def files(self) -> Mapping[str, bytes]:
        """The PNG plots (see :data:`PLOTS`)."""
        from recalib.profiling.latency.plots import latency_by_runtime, latency_vs_flops

        return {"latency_vs_flops.png": latency_vs_flops(self.audit),
                "latency_by_runtime.png": latency_by_runtime(self.audit)}


def _threads(audit: LatencyAudit) -> str:
    n = audit.plan.threads or audit.machine.cores_available
    return f"{n} thread{'s' if n != 1 else ''}"


def _base_cost(arch: ArchAudit) -> ModelCost | None:
    return next((c for c in arch.costs if c.label == BASELINE), None)


def _cost_row(arch: ArchAudit, cost: ModelCost) -> dict[str, Any]:
    base = _base_cost(arch)
    return {"arch": arch.arch, "model": cost.label, "params": cost.params,
            "params_overhead_pct": overhead_pct(cost.params, base.params) if base else None,
            "macs": cost.macs, "macs_overhead_pct": overhead_pct(cost.macs, base.macs) if base else None,
            "macs_all": cost.macs_all,
            "macs_all_overhead_pct": overhead_pct(cost.macs_all, base.macs_all) if base else None}


def _cost_rows(arch: ArchAudit) -> list[dict[str, Any]]:
    return [{**_cost_row(arch, cost), **{f"onnx_nodes_{form}": _nodes(arch, form, cost.label) for form in arch.exports}}
            for cost in arch.costs]


def _nodes(arch: ArchAudit, form: str, label: str) -> int | None:
    summary = arch.exports.get(form, {}).get(label)
    return None if summary is None else summary.nodes


def _least(arch: ArchAudit, batch: int, label: str) -> str:
    """The series where ``label`` costs least at ``batch``, per device, with its overhead; or the tie."""
    devices = list(dict.fromkeys(r.target.device for r in arch.records))
    cells = []
    for device in devices:
        found = arch.least(batch, label, device)
        named = ", ".join(f"{r.series} {_pct(r.measurement.overhead_pct)}" for r in found)
        cells += [] if not found else [named if len(found) == 1 else f"tie ({named}: intervals overlap)"]
    return "; ".join(cells) or "–"


def _latency_row(arch: ArchAudit, record: LatencyRecord) -> dict[str, Any]:
    """A latency record with its model's cost columns, for joins without a second file; ``least_overhead``
    marks the record of the series where the block costs least on its device at its batch, told apart
    from the others; ``tied_for_least``, each record of a tie that cannot be broken."""
    cost = next(c for c in arch.costs if c.label == record.model)
    found = arch.least(record.batch, record.model, record.target.device)
    ours = any(r is record for r in found)
    return {**record.row(), "least_overhead": ours and len(found) == 1, "tied_for_least": ours and len(found) > 1,
            **{k: v for k, v in _cost_row(arch, cost).items() if k not in ("arch", "model")}}
