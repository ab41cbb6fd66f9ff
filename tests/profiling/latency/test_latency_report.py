"""The latency section and its plots on a hand-made audit (no timing), and report-folder rewrites."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
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


def _record(model: str, target: str, export: str, median: float, overhead: float | None) -> LatencyRecord:
    """A record whose overhead (percent) has the interval [overhead - 2, overhead + 3]."""
    stats = LatencyStats(p50_ms=median, p90_ms=median * 1.2, p95_ms=median * 1.3, p99_ms=median * 1.4,
                         mean_ms=median * 1.05, min_ms=median * 0.8, max_ms=median * 1.5, n=5, spread=0.1,
                         batch=1, throughput=1e3 / median)
    ratio = None if overhead is None else RatioStats(
        1 + overhead / 100, 1 + (overhead - 2) / 100, 1 + (overhead + 3) / 100, 1.0, 1.0, 1.0, 1.0, 5)
    measurement = Measurement(target, 1, model, stats, ratio, (median,) * 5)
    return LatencyRecord("net", Target.parse(target), export, measurement, None, 1)


def _nodes(**counts: int) -> dict[str, ExportSummary]:
    return {label: ExportSummary(n, {"Conv": n}, 1e-7, 0.1) for label, n in counts.items()}


def _audit() -> LatencyAudit:
    costs = [ModelCost("none", 1000, 1e6, 1.1e6), ModelCost("se", 1100, 1.001e6, 1.12e6),
             ModelCost("gate", 1000, 1e6, 1.1e6)]  # zero FLOP overhead: left off the log axis
    records = [_record("none", "ort-cpu", "plain", 2.0, None), _record("se", "ort-cpu", "plain", 2.4, 20.0),
               _record("gate", "ort-cpu", "plain", 1.9, -5.0),
               _record("none", "ort-cpu", "optimized", 1.8, None), _record("se", "ort-cpu", "optimized", 1.9, 5.0),
               _record("none", "torch-eager", "module", 4.0, None), _record("se", "torch-eager", "module", 4.4, 10.0)]
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
    points = {c.get_label(): [tuple(xy) for xy in c.lines[0].get_xydata()] for c in ax.containers
              if isinstance(c, ErrorbarContainer)}
    # se: mac-all 1.12e6 over 1.1e6 = +1.818%; "gate" has no FLOP overhead, so the log axis leaves it off
    flops = 100 * (1.12e6 - 1.1e6) / 1.1e6
    assert points == {"ort-cpu": [pytest.approx((flops, 20.0))], "ort-cpu optimized": [pytest.approx((flops, 5.0))],
                      "torch-eager": [pytest.approx((flops, 10.0))]}
    (ring,) = [c for c in ax.collections if c.get_label() == "least overhead"]
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
