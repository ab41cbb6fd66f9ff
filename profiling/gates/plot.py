"""The gates' latency share per runtime, as a PNG (rendered like the latency audit's plots, without pyplot)."""
from __future__ import annotations

from matplotlib.figure import Figure

from recalib.profiling.gates.audit import GateAudit
from recalib.profiling.latency.plots import png

__all__ = ["latency_share_figure", "latency_share_png"]


def latency_share_figure(audit: GateAudit) -> Figure:
    """One horizontal bar per model, ablation, runtime and batch: the latency share with its 95% interval."""
    rows = [(f"{m.label} − {r.selection}, {r.target.name} b{r.original.batch}", r.share)
            for m in audit.models for r in m.records if r.share is not None]
    fig = Figure(figsize=(8, 1 + 0.35 * max(1, len(rows))), layout="constrained")
    ax = fig.subplots()
    if not rows:
        ax.text(0.5, 0.5, "nothing measured", ha="center", va="center")
        return fig
    values = [share[0] for _, share in rows if share is not None]
    low = [share[0] - share[1] for _, share in rows if share is not None]
    high = [share[2] - share[0] for _, share in rows if share is not None]
    ax.barh(range(len(rows)), values, xerr=[low, high], capsize=3, color="tab:blue")
    ax.set_yticks(range(len(rows)), [label for label, _ in rows], fontsize=7)
    ax.invert_yaxis()
    ax.axvline(0.0, color="grey", linewidth=0.5)
    ax.set_xlabel("share of the original's median latency spent in the ablated gates (%)")
    return fig


def latency_share_png(audit: GateAudit) -> bytes:
    return png(latency_share_figure(audit))
