"""PNG plots of the latency audit, rendered without pyplot (no global state, no display needed).

* :func:`latency_vs_flops`: FLOP overhead (mac-all, log axis) against latency overhead (linear)
  per block and series, one panel per architecture and batch, with the line where they would be
  equal; each block's point on the series where it costs least, told apart from the others, is
  ringed (a tie is not).
* :func:`latency_by_runtime`: median latency of each model per series (min–p90 whiskers).

In both, a noisy series (:mod:`recalib.deploy.stability`) is drawn hollow, and the image itself
says what whiskers, rings and hollow marks mean: a plot travels without its report. Legends sit
below the panels, never over the data; block labels are kept inside their panel. Each plot is
built as a :class:`~matplotlib.figure.Figure` (``*_figure``, what the tests inspect) and rendered
to PNG bytes by :func:`png`.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from recalib.profiling.latency.audit import BASELINE, ArchAudit, LatencyAudit, LatencyRecord, overhead_pct

__all__ = ["latency_vs_flops", "latency_by_runtime", "latency_vs_flops_figure", "latency_by_runtime_figure", "png"]

_MARKERS = "os^Dv<>Ph*"
_NOISY_NOTE = "hollow: noisy (see report.md)"


def _panels(audit: LatencyAudit) -> list[tuple[ArchAudit, int]]:
    return [(arch, batch) for arch in audit.archs for batch in audit.plan.batches]


def _figure(audit: LatencyAudit, draw: Callable[[Axes, ArchAudit, int, list[str]], None],
            width: float, height: float, note: str) -> Figure:
    """One panel per architecture (rows) and batch (columns), drawn by ``draw``; one legend for all,
    below the panels, with ``note`` (what the marks mean)."""
    rows, cols = max(1, len(audit.archs)), len(audit.plan.batches)
    fig = Figure(figsize=(width * cols, height * rows + 0.8), layout="constrained")
    names = list(dict.fromkeys(r.series for arch in audit.archs for r in arch.records))
    axes = fig.subplots(rows, cols, squeeze=False)
    for (arch, batch), ax in zip(_panels(audit), axes.flat):
        ax.set_title(f"{arch.arch}, batch {batch}", fontsize=10)
        draw(ax, arch, batch, names)
    if not audit.archs:
        axes[0][0].text(0.5, 0.5, "nothing measured", ha="center", va="center")
    handles: dict[str, Artist] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="outside lower center", fontsize=7,
                   ncols=min(4, len(handles)), title=note, title_fontsize=7)
    return fig


def png(fig: Figure) -> bytes:
    """The figure as PNG bytes (100 dpi)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return buffer.getvalue()


def _overhead_points(arch: ArchAudit, batch: int,
                     name: str) -> list[tuple[str, float, float, float, float, bool, bool]]:
    """(block, mac-all FLOP overhead %, latency overhead %, interval low, high, least overhead, noisy) per
    block with more FLOPs; the first flag marks the series where the block costs least on its device,
    told apart from every other."""
    base = next((c for c in arch.costs if c.label == BASELINE), None)
    costs = {c.label: c for c in arch.costs}
    points = []
    for r in arch.records:
        latency, interval = r.measurement.overhead_pct, r.measurement.interval_pct()
        if r.series != name or r.batch != batch or latency is None or interval is None or base is None:
            continue
        flops = overhead_pct(costs[r.model].macs_all, base.macs_all)
        if flops is not None and flops > 0:  # a log axis cannot show zero
            least = arch.least(batch, r.model, r.target.device)
            points.append((r.model, flops, latency, *interval, len(least) == 1 and least[0] is r, r.measurement.noisy))
    return points


def _draw_overheads(ax: Axes, arch: ArchAudit, batch: int, names: list[str]) -> None:
    ax.set_xscale("log")
    labelled: set[str] = set()
    ringed = False
    shown: list[float] = []
    for index, name in enumerate(names):
        points = _overhead_points(arch, batch, name)
        if not points:
            continue
        shown += [v for p in points for v in ((p[2],) if p[6] else (p[2], p[3], p[4]))]
        color, marker = f"C{index % 10}", _MARKERS[index % len(_MARKERS)]
        ax.errorbar([p[1] for p in points], [p[2] for p in points], fmt="none", capsize=3, color=color,
                    yerr=[[p[2] - p[3] for p in points], [p[4] - p[2] for p in points]])
        for position, (_, flops, latency, _, _, _, noisy) in enumerate(points):
            ax.plot([flops], [latency], marker, color=color, markerfacecolor="none" if noisy else color,
                    label=name if position == 0 else None, gid=name)
        least = [(p[1], p[2]) for p in points if p[5]]
        if least:
            ax.scatter([x for x, _ in least], [y for _, y in least], s=180, facecolors="none", edgecolors="black",
                       linewidths=1.2, label=None if ringed else "least overhead (interval apart)", zorder=3)
            ringed = True
        for block, flops, latency, *_ in points:
            if block not in labelled:
                # Staggered vertically: blocks with similar costs would print over each other.
                ax.annotate(block, (flops, latency), textcoords="offset points", fontsize=7,
                            xytext=(5, 6 - 9 * (len(labelled) % 3)), annotation_clip=True)
                labelled.add(block)
    _flop_axis(ax)
    if shown:  # a noisy interval (±900%) would squash every steady point: it runs past the panel instead
        low, high = min(shown), max(shown)
        pad = max(1.0, 0.15 * (high - low))
        ax.set_ylim(low - pad, high + pad)
    _reference_line(ax)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:+g}%"))
    ax.set_xlabel("FLOP overhead, mac-all (log)")
    ax.set_ylabel("latency overhead, 95% interval")
    ax.axhline(0.0, color="grey", linewidth=0.5)
    ax.grid(True, which="major", alpha=0.3)


def _flop_axis(ax: Axes) -> None:
    """At least a decade, widened on the right so a label beside the last point stays in the panel,
    with at most five percent ticks (a narrow range once printed "0.425%0.45%0.475%")."""
    ax.autoscale_view()
    low, high = ax.get_xlim()
    if low > 0 and high > low:
        centre = (low * high) ** 0.5
        span = max(high / low, 10.0)
        ax.set_xlim(centre / span ** 0.5, centre * span ** 0.5 * 3)
    ax.xaxis.set_major_locator(LogLocator(numticks=5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}%"))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _reference_line(ax: Axes) -> None:
    """Where latency overhead would equal FLOP overhead."""
    low, high = ax.get_xlim()
    bottom, top = ax.get_ylim()
    if low > 0 and high > low:
        ax.plot([low, high], [low, high], linestyle="--", color="grey", linewidth=0.8, label="latency = FLOPs")
        ax.set_xlim(low, high)
        ax.set_ylim(bottom, top)


def _draw_latency(ax: Axes, arch: ArchAudit, batch: int, names: list[str]) -> None:
    models = [c.label for c in arch.costs]
    lookup = {(r.series, r.model): r for r in arch.records if r.batch == batch}
    shown = [n for n in names if any((n, m) in lookup for m in models)]
    height = 0.8 / max(1, len(shown))
    for index, name in enumerate(shown):
        ys, widths, errors, noisy = _bars(lookup, name, models, index, height)
        bars = ax.barh(ys, widths, height=height, xerr=errors, capsize=2, label=name)
        for bar, hollow in zip(bars, noisy):
            if hollow:
                bar.set_edgecolor(bar.get_facecolor())
                bar.set_facecolor("none")
    ax.set_yticks(range(len(models)), labels=models, fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    ax.set_xlabel("median latency (ms); whiskers: fastest round to p90")
    ax.grid(True, axis="x", alpha=0.3)


def _bars(lookup: dict[tuple[str, str], LatencyRecord], name: str, models: Sequence[str], index: int,
          height: float) -> tuple[list[float], list[float], list[list[float]], list[bool]]:
    """Bar positions, medians, min/p90 whiskers and noisy flags of one series."""
    ys, widths, low, high, noisy = [], [], [], [], []
    for position, model in enumerate(models):
        r = lookup.get((name, model))
        if r is None:
            continue
        stats = r.measurement.stats
        ys.append(position - 0.4 + height * (index + 0.5))
        widths.append(stats.p50_ms)
        low.append(stats.p50_ms - stats.min_ms)
        high.append(stats.p90_ms - stats.p50_ms)
        noisy.append(r.measurement.noisy)
    return ys, widths, [low, high], noisy


def latency_vs_flops_figure(audit: LatencyAudit) -> Figure:
    """FLOP overhead (log) against latency overhead, per block, series and batch."""
    return _figure(audit, _draw_overheads, 6.0, 4.5,
                   f"bars: 95% interval of the overhead (a noisy one may run past the panel); {_NOISY_NOTE}")


def latency_by_runtime_figure(audit: LatencyAudit) -> Figure:
    """Median latency per model and series (min–p90 whiskers)."""
    return _figure(audit, _draw_latency, 6.0, 0.35 * (1 + max((len(a.costs) for a in audit.archs), default=1)) + 1.5,
                   _NOISY_NOTE)


def latency_vs_flops(audit: LatencyAudit) -> bytes:
    """PNG of :func:`latency_vs_flops_figure`."""
    return png(latency_vs_flops_figure(audit))


def latency_by_runtime(audit: LatencyAudit) -> bytes:
    """PNG of :func:`latency_by_runtime_figure`."""
    return png(latency_by_runtime_figure(audit))
