"""The gates audit as a report section, and the gate table ``recalib gates`` prints.

Per model: its gates (where, what, what they cost), their share of its parameters and
multiply-adds, and per runtime and batch the *latency share*: how much of the original's median
latency the ablated model saves, with the 95% paired-bootstrap interval, and the gates' overhead
over the ablated model (the form the latency audit gives the papers' blocks: ``share / (1 - share)``).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from recalib.export.gates.gate import shape_text
from recalib.profiling.counting.model_profile_text import human
from recalib.profiling.gates.audit import GateAudit, GateRecord, ModelGates
from recalib.profiling.gates.inventory import GateInventory

__all__ = ["GatesSection", "render_inventory", "PLOT"]

PLOT = "gates_latency.png"
_NODES_SHOWN = 6


def _pct(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.3g}%" if whole else "–"


def render_inventory(inv: GateInventory) -> str:
    """The gates of one model as aligned text: totals and shares, then one entry per gate."""
    c = inv.costs
    if not c.gates:
        lines = [f"no gates found in {inv.label}: no multiply scales a feature map by a sigmoid-like function "
                 f"of a pooled descriptor of it"]
        return "\n".join(lines + [f"no gate found in recalibration block {m}" for m in inv.missed])
    lines = [f"{inv.label} ({shape_text(inv.input_chw)}): {len(c.gates)} gates (counted by {c.counted_by})",
             f"  parameters {c.total_params:>16,.0f}   gates {c.params:>12,.0f} = {_pct(c.params, c.total_params)}",
             f"  MACs (mac) {c.total_macs:>16,.0f}   gates {c.macs:>12,.0f} = {_pct(c.macs, c.total_macs)}"]
    if c.macs_all is not None and c.total_macs_all:
        lines.append(f"  (mac-all)  {c.total_macs_all:>16,.0f}   gates {c.macs_all:>12,.0f} = "
                     f"{_pct(c.macs_all, c.total_macs_all)}  (pooling, activations and products too)")
    lines.append("")
    for cost in c.gates:
        g = cost.gate
        nodes = ", ".join((*g.nodes[:_NODES_SHOWN], *(["…"] if len(g.nodes) > _NODES_SHOWN else [])))
        lines += [f"  {g.number:>3}  {g.name}  [stage {g.stage or '?'}, {g.stage_size}]  {g.kind}, "
                  f"{'+'.join(g.descriptors)} -> {g.activation}; params {human(cost.params)}, MACs {human(cost.macs)}",
                  f"       scales {g.feature} ({shape_text(g.feature_shape)}) at {g.mul}; nodes: {nodes}"]
        if g.refused:
            lines.append(f"       cannot be ablated: {g.refused}")
    lines += [f"no gate found in recalibration block {m}" for m in inv.missed]
    return "\n".join(lines)


def _share_cell(record: GateRecord | None) -> str:
    share = None if record is None else record.share
    if share is None:
        return "–"
    value, low, high = share
    overhead = 100.0 * value / (100.0 - value) if value < 100.0 else float("inf")
    return f"{value:.1f}% [{low:.1f}, {high:.1f}] ({overhead:+.1f}%)"


class GatesSection:
    """Renders a :class:`~recalib.profiling.gates.audit.GateAudit`."""

    key = "gates"
    title = "Gates of your model: parameter, FLOP and latency shares"
    file_names = ("gates.csv", "gate_latency.csv", PLOT)

    def __init__(self, audit: GateAudit) -> None:
        self.audit = audit

    def summary(self) -> list[str]:
        lines = []
        for model in self.audit.models:
            inv = model.inventory
            if inv is None:
                continue
            c = inv.costs
            cells = [f"{r.target.name} b{r.original.batch} {_share_cell(r)}" for r in model.records
                     if r.selection == "all gates"]
            every = "" if c.mac_all_share is None else f" ({100 * c.mac_all_share:.3g}% of mac-all)"
            lines.append(f"{model.label}: {len(c.gates)} gates hold {_pct(c.params, c.total_params)} of the "
                         f"parameters and {_pct(c.macs, c.total_macs)} of the MACs{every}; latency share "
                         f"{'; '.join(cells) or 'not measured'}")
            lines += [f"{model.label} without {a.selection}: {f.check.describe()}" for a in model.ablations
                      for f in a.files if not f.check.differs]
        if self.audit.failures:
            lines.append(f"{len(self.audit.failures)} measurements failed (see 'Not measured')")
        return lines

    def markdown(self) -> str:
        a, m = self.audit, self.audit.machine
        out = [f"## {self.title}", "",
               "Each model prepared as `recalib export` prepares it (seed 0, batch-norm statistics from random "
               "inputs), its gates found in its graph, ablated into identity (each gate's multiply replaced by the "
               "tensor it scales, the dead branch removed) in every file a runtime times, and the ablated model "
               "checked to compute something else. *Latency share*: the part of the original's median latency "
               "the ablated model saves [95% paired-bootstrap interval] (the gates' overhead over the ablated "
               f"model); models alternate in one worker per runtime. {m.cpu}, {a.plan.threads or m.cores_available} "
               f"thread(s), load average {m.load_average} at start, {a.load_end} at end.", ""]
        out += [line for model in a.models for line in self._model_md(model)]
        out += [f"![gates latency share]({PLOT})", ""]
        if a.skipped:
            out += [f"- `{name}` skipped: {why}" for name, why in a.skipped.items()] + [""]
        if a.failures:
            out += ["### Not measured", ""] + [f"- {f.arch}, {f.stage}, {f.what}: {f.error}" for f in a.failures]
        return "\n".join(out)

    def _model_md(self, model: ModelGates) -> list[str]:
        inv = model.inventory
        if inv is None:
            return [f"### {model.label}", "", "Not measured (see below).", ""]
        lines = [f"### {model.label}", "", "```", render_inventory(inv), "```", ""]
        columns = list(dict.fromkeys((r.target.name, r.original.batch) for r in model.records))
        if columns:
            lines += ["| ablated | " + " | ".join(f"{t} b{b}" for t, b in columns) + " |", "|" + "---|" * (len(columns) + 1)]
            for ablation in model.ablations:
                found = {(r.target.name, r.original.batch): r for r in model.records if r.selection == ablation.selection}
                lines.append(f"| {ablation.selection} ({len(ablation.gates)}) | "
                             + " | ".join(_share_cell(found.get(col)) for col in columns) + " |")
            lines.append("")
        lines += [f"- {f.check.describe()}" for a in model.ablations for f in a.files]
        lines += [f"- `{name}` not timed: {why}" for name, why in model.skipped.items()]
        return lines + [""]

    def to_json(self) -> dict[str, Any]:
        a = self.audit
        return {"summary": self.summary(), "machine": a.machine.to_dict(), "load_average_end": a.load_end,
                "seconds": a.seconds, "targets": [t.name for t in a.targets], "skipped": a.skipped,
                "failures": [asdict(f) for f in a.failures],
                "models": [{"model": m.label, "inventory": m.inventory.to_json() if m.inventory else None,
                            "ablations": [{"selection": x.selection, "gates": [g.name for g in x.gates],
                                           "checks": [asdict(f.check) | {"differs": f.check.differs}
                                                      for f in x.files], "torch": x.torch} for x in m.ablations],
                            "latency": self._latency_rows(m), "skipped": m.skipped} for m in a.models]}

    def _latency_rows(self, model: ModelGates) -> list[dict[str, Any]]:
        rows = []
        for r in model.records:
            share = r.share
            rows.append({"model": model.label, "runtime": r.target.name, "batch": r.original.batch,
                         "ablated": r.selection, "original_p50_ms": r.original.stats.p50_ms,
                         "ablated_p50_ms": r.ablated.stats.p50_ms,
                         "latency_share_pct": None if share is None else share[0],
                         "latency_share_low_pct": None if share is None else share[1],
                         "latency_share_high_pct": None if share is None else share[2],
                         "rounds": r.ablated.stats.n, "repeat_overheads_pct": r.ablated.row()["repeat_overheads_pct"],
                         "noisy": r.original.noisy or r.ablated.noisy,
                         "noise": "; ".join(dict.fromkeys((*r.original.noise, *r.ablated.noise))) or None})
        return rows

    def tables(self) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        gates = [{"model": m.label, **{k: v for k, v in g.items() if k != "nodes"}, "nodes": " ".join(g["nodes"])}
                 for m in self.audit.models if m.inventory for g in m.inventory.to_json()["gates"]]
        return {"gates.csv": gates, "gate_latency.csv": [row for m in self.audit.models for row in self._latency_rows(m)]}

    def files(self) -> Mapping[str, bytes]:
        from recalib.profiling.gates.plot import latency_share_png

        return {PLOT: latency_share_png(self.audit)}
