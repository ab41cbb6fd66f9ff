"""The latency section and its plots on a hand-made audit (no timing), and report-folder rewrites."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.image import imread

from recalib.deploy.machine_info import MachineInfo
from recalib.deploy.results import Measurement
from recalib.deploy.stats import LatencyStats, RatioStats
from recalib.deploy.target import Target, parse_targets
from recalib.profiling.latency.audit import ArchAudit, ExportSummary, Failure, LatencyAudit, LatencyRecord, ModelCost
from recalib.profiling.latency.plan import LatencyPlan
from recalib.profiling.latency.plots import latency_by_runtime_figure, latency_vs_flops_figure
from recalib.profiling.latency.report import LatencySection
from recalib.profiling.report.writer import write_report
from recalib.errors import OutputError


def _record(model: str, target: str, export: str, median: float, overhead: float | None,
            spread: float = 0.05) -> LatencyRecord:
    """A record whose overhead (percent) has the interval [overhead - 2, overhead + 3]; steady unless
    ``spread`` (IQR/median) is above the noisy threshold."""
    stats = LatencyStats(p50_ms=median, p90_ms=median * 1.2, p95_ms=median * 1.3, p99_ms=median * 1.4,
                         mean_ms=median * 1.05, min_ms=median * 0.8, max_ms=median * 1.5, n=5, spread=spread,
                         batch=1, throughput=1e3 / median, tail=1.2, outliers=0)
    ratio = None if overhead is None else RatioStats(
        1 + overhead / 100, 1 + (overhead - 2) / 100, 1 + (overhead + 3) / 100, 1.0, 1.0, 1.0, 1.0, 5)
    measurement = Measurement(target, 1, model, stats, ratio, (median,) * 5)
    return LatencyRecord("net", Target.parse(target), export, measurement, None, 1)


def _nodes(**counts: int) -> dict[str, ExportSummary]:
    return {label: ExportSummary(n, {"Conv": n}, 1e-7, 0.1) for label, n in counts.items()}


def _points(ax: Axes) -> dict[str, list[tuple[float, float]]]:
    """Series name -> the (FLOP, latency) overhead points the FLOP plot drew for it."""
    points: dict[str, list[tuple[float, float]]] = {}
    for line in ax.lines:
        if line.get_gid():
            points.setdefault(line.get_gid(), []).extend(tuple(xy) for xy in line.get_xydata())
    return points


def _audit(eager_se: float = 12.0, noisy_spread: float = 0.05) -> LatencyAudit:
    """The test audit; ``eager_se``: se's overhead on torch-eager, ``noisy_spread``: that record's spread."""
    costs = [ModelCost("none", 1000, 1e6, 1.1e6), ModelCost("se", 1100, 1.001e6, 1.12e6),
             ModelCost("gate", 1000, 1e6, 1.1e6)]  # zero FLOP overhead: left off the log axis
    records = [_record("none", "ort-cpu", "plain", 2.0, None), _record("se", "ort-cpu", "plain", 2.4, 20.0),
               _record("gate", "ort-cpu", "plain", 1.9, -5.0),
               _record("none", "ort-cpu", "optimized", 1.8, None), _record("se", "ort-cpu", "optimized", 1.9, 5.0),
               _record("none", "torch-eager", "module", 4.0, None), _record("se", "torch-eager", "module", 4.4, eager_se, noisy_spread)]
    exports = {"plain": _nodes(none=10, se=16, gate=10), "onnxruntime": _nodes(none=10, se=12)}
    arch = ArchAudit("net", (3, 8, 8), costs, exports, records)
    machine = MachineInfo("Test CPU", 2, 2, (0.5, 0.5, 0.5), "Linux", "3.11", {"torch": "2.13"})
    failure = Failure("net", "export (optimized)", "gate", "VerificationError: off by 1", 4)
    plan = LatencyPlan(archs=("net",), blocks=("se", "gate"), targets=parse_targets(["ort-cpu", "torch-eager"]),
                       batches=(1,), iters=5)
    return LatencyAudit(plan, list(plan.targets), {"ort-cuda": "no GPU; to enable it: buy one"},
                        ["plain", "optimized"], {}, [arch], [failure], machine, (0.6, 0.5, 0.5), 12.0)


def test_series_separates_optimized_exports() -> None:
    assert _record("se", "ort-cpu", "optimized", 1.0, 1.0).series == "ort-cpu optimized"
    assert _record("se", "torch-eager", "module", 1.0, 1.0).series == "torch-eager"


def test_markdown_sets_costs_beside_latency_per_series() -> None:
    section = LatencySection(_audit())
    markdown = section.markdown()
    header = next(line for line in markdown.splitlines() if line.startswith("| block"))
    assert "| ONNX nodes (plain / onnxruntime) |" in header
    assert header.endswith("| ort-cpu b1 | ort-cpu optimized b1 | torch-eager b1 | least overhead b1 |")
    se_row = next(line for line in markdown.splitlines() if line.startswith("| `se`"))
    assert "+10.00%" in se_row and "+0.10%" in se_row and "| 16 / 12 |" in se_row
    assert se_row.endswith("| ort-cpu optimized +5.0% |")
    assert "+20.0% [+18.0, +23.0]" in se_row and "+5.0% [+3.0, +8.0]" in se_row
    assert "| `none` (plain) |" in markdown and "2.00 ms" in markdown
    assert "`ort-cuda` skipped: no GPU; to enable it: buy one" in markdown
    assert "### Not measured" in markdown and "off by 1" in markdown
    summary = section.summary()
    assert any(line.startswith("net + se: FLOPs +0.10% (mac)") and "ort-cpu optimized +5%" in line
               and line.endswith("least on ort-cpu optimized +5.0%") for line in summary)
    assert any("1 measurements failed" in line for line in summary)


def test_tables_and_json_are_flat_and_complete() -> None:
    section = LatencySection(_audit())
    tables = section.tables()
    assert len(tables["latency.csv"]) == 7 and tables["latency.csv"][1]["params_overhead_pct"] == pytest.approx(10.0)
    assert [r["onnx_nodes_onnxruntime"] for r in tables["costs.csv"]] == [10, 12, None]
    least = [(r["model"], r["export"]) for r in tables["latency.csv"] if r["least_overhead"]]
    assert least == [("gate", "plain"), ("se", "optimized")]
    data = json.loads(json.dumps(section.to_json()))
    assert data["plan"]["targets"] == ["ort-cpu", "torch-eager"] and data["failures"][0]["exit_code"] == 4


def test_plots_are_valid_pngs_even_with_negative_and_zero_overheads() -> None:
    files = LatencySection(_audit()).files()
    assert sorted(files) == ["latency_by_runtime.png", "latency_vs_flops.png"]
    for data in files.values():
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert imread(io.BytesIO(data), format="png").ndim == 3


def test_flop_plot_places_each_block_at_its_flop_and_latency_overheads_and_rings_the_cheapest() -> None:
    (ax,) = latency_vs_flops_figure(_audit()).axes
    points = _points(ax)
    # se: mac-all 1.12e6 over 1.1e6 = +1.818%; "gate" has no FLOP overhead, so the log axis leaves it off
    flops = 100 * (1.12e6 - 1.1e6) / 1.1e6
    assert points == {"ort-cpu": [pytest.approx((flops, 20.0))], "ort-cpu optimized": [pytest.approx((flops, 5.0))],
                      "torch-eager": [pytest.approx((flops, 12.0))]}
    (ring,) = [c for c in ax.collections if c.get_label() == "least overhead (interval apart)"]
    assert [tuple(xy) for xy in ring.get_offsets()] == [pytest.approx((flops, 5.0))]
    assert {t.get_text() for t in ax.texts} == {"se"}


def test_runtime_plot_draws_each_models_median_per_series() -> None:
    (ax,) = latency_by_runtime_figure(_audit()).axes
    medians = {c.get_label(): sorted(round(bar.get_width(), 6) for bar in c) for c in ax.containers
               if isinstance(c, BarContainer)}
    assert medians == {"ort-cpu": [1.9, 2.0, 2.4], "ort-cpu optimized": [1.8, 1.9], "torch-eager": [4.0, 4.4]}
    assert [label.get_text() for label in ax.get_yticklabels()] == ["none", "se", "gate"]


def test_rewriting_a_report_folder_replaces_its_files_and_keeps_unrelated_ones(tmp_path: Path) -> None:
    section = LatencySection(_audit())
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "old.csv").write_text("stale")
    (tmp_path / "report.json").write_text(json.dumps({"files": ["report.json", "old.csv", "../escape.txt"]}))
    (tmp_path.parent / "escape.txt").write_text("outside")
    with pytest.raises(OutputError, match="holds report.json.*cannot prove it wrote it"):
        write_report(tmp_path, [section])  # a report.json recalib did not write is not trusted, nor replaced
    write_report(tmp_path, [section], force=True)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".recalib-report.json", "costs.csv", "latency.csv", "latency_by_runtime.png",
                     "latency_vs_flops.png", "notes.txt", "old.csv", "report.json", "report.md"]
    assert (tmp_path / "notes.txt").read_text() == "keep me" and (tmp_path.parent / "escape.txt").exists()


def test_overlapping_intervals_name_a_tie_not_a_winner() -> None:
    # se: ort-cpu optimized +5% [+3, +8], torch-eager +7.5% [+5.5, +10.5]: the intervals overlap
    audit = _audit(eager_se=7.5)
    section = LatencySection(audit)
    summary = next(line for line in section.summary() if line.startswith("net + se"))
    assert summary.endswith("least tie (ort-cpu optimized +5.0%, torch-eager +7.5%: intervals overlap)")
    rows = section.tables()["latency.csv"]
    assert not any(r["least_overhead"] for r in rows if r["model"] == "se")
    assert sorted(r["runtime"] + " " + r["export"] for r in rows if r["tied_for_least"]) == [
        "ort-cpu optimized", "torch-eager module"]
    (ax,) = latency_vs_flops_figure(audit).axes
    assert not [c for c in ax.collections if c.get_label().startswith("least overhead")]


def test_a_noisy_series_is_marked_in_the_tables_csv_summary_and_plots() -> None:
    audit = _audit(noisy_spread=0.3)
    section = LatencySection(audit)
    markdown = section.markdown()
    se_row = next(line for line in markdown.splitlines() if line.startswith("| `se`"))
    assert "+12.0% [+10.0, +15.0] NOISY" in se_row and se_row.count("NOISY") == 1
    assert "### Noisy measurements" in markdown
    assert "- NOISY: torch-eager batch 1 se: spread 30% > 10%" in markdown
    assert any("1 of 7 series are NOISY" in line for line in section.summary())
    rows = section.tables()["latency.csv"]
    assert [(r["model"], r["noise"]) for r in rows if r["noisy"]] == [("se", "spread 30% > 10%")]
    (ax,) = latency_vs_flops_figure(audit).axes
    hollow = [line.get_gid() for line in ax.lines if line.get_gid() and line.get_markerfacecolor() == "none"]
    assert hollow == ["torch-eager"]
    (bars,) = latency_by_runtime_figure(audit).axes
    eager = next(c for c in bars.containers if isinstance(c, BarContainer) and c.get_label() == "torch-eager")
    assert [patch.get_facecolor()[3] for patch in eager] == [1.0, 0.0]  # none filled, se hollow


def _undrawn_ticks(fig: Figure) -> set[int]:
    """Tick labels matplotlib keeps but does not draw: their ticks lie outside the view."""
    hidden = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for ticks, locs in ((axis.get_major_ticks(), axis.get_majorticklocs()),
                                (axis.get_minor_ticks(), axis.get_minorticklocs())):
                hidden |= {id(label) for tick, loc in zip(ticks, locs) if not low <= loc <= high
                           for label in (tick.label1, tick.label2)}
    return hidden


def _text_boxes(fig: Figure) -> list[tuple[str, Any]]:
    """Every drawn text of ``fig`` with its box in pixels."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    hidden = _undrawn_ticks(fig)
    return [(t.get_text(), t.get_window_extent(renderer)) for t in fig.findobj(lambda a: hasattr(a, "get_text"))
            if t.get_visible() and t.get_text() and id(t) not in hidden]


@pytest.mark.parametrize("draw", [latency_vs_flops_figure, latency_by_runtime_figure])
def test_plots_keep_every_label_inside_the_image_and_ticks_apart(draw: object) -> None:
    fig = draw(_audit())  # type: ignore[operator]
    canvas = fig.bbox
    for text, box in _text_boxes(fig):
        assert box.x0 >= canvas.x0 - 1 and box.x1 <= canvas.x1 + 1, text
        assert box.y0 >= canvas.y0 - 1 and box.y1 <= canvas.y1 + 1, text
    renderer, hidden = FigureCanvasAgg(fig).get_renderer(), _undrawn_ticks(fig)
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            boxes = [t.get_window_extent(renderer) for t in axis.get_ticklabels()
                     if t.get_visible() and t.get_text() and id(t) not in hidden]
            assert all(not a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    explained = " ".join(text for text, _ in _text_boxes(fig))
    assert "hollow: noisy" in explained
    assert ("fastest round to p90" if draw is latency_by_runtime_figure else "95% interval") in explained
