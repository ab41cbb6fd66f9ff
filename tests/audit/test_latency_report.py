"""The latency section and its plots on a hand-made audit (no timing), and report-folder rewrites."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from matplotlib.image import imread

from profiling.latency_audit import ArchAudit, Failure, LatencyAudit, ModelCost
from profiling.latency_plan import LatencyPlan, parse_targets
from profiling.latency_report import LatencySection, series
from profiling.report import write_report


def _record(model: str, target: str, export: str, median: float, overhead: float | None) -> dict[str, Any]:
    ci = {} if overhead is None else {"overhead_ci_low_pct": overhead - 2, "overhead_ci_high_pct": overhead + 3}
    return {"arch": "net", "target": target, "runtime": target, "device": "cpu", "export": export, "batch": 1,
            "model": model, "median_ms": median, "p10_ms": median * 0.9, "p90_ms": median * 1.2,
            "min_ms": median * 0.8, "n": 5, "overhead_pct": overhead, "overhead_ci_low_pct": None,
            "overhead_ci_high_pct": None, **ci}


def _audit() -> LatencyAudit:
    costs = [ModelCost("none", 1000, 1e6, 1.1e6), ModelCost("se", 1100, 1.001e6, 1.12e6),
             ModelCost("gate", 1000, 1e6, 1.1e6)]  # zero FLOP overhead: left off the log axis
    records = [_record("none", "ort-cpu", "plain", 2.0, None), _record("se", "ort-cpu", "plain", 2.4, 20.0),
               _record("gate", "ort-cpu", "plain", 1.9, -5.0),
               _record("none", "ort-cpu", "optimized", 1.8, None), _record("se", "ort-cpu", "optimized", 1.9, 5.0),
               _record("none", "torch-eager", "module", 4.0, None), _record("se", "torch-eager", "module", 4.4, 10.0)]
    exports = {"plain": {"none": {"nodes": 10}, "se": {"nodes": 16}, "gate": {"nodes": 10}},
               "optimized": {"none": {"nodes": 10}, "se": {"nodes": 12}}}
    arch = ArchAudit("net", (3, 8, 8), costs, exports, records)
    machine = {"cpu": "Test CPU", "cores_available": 2, "load_average_1_5_15": [0.5, 0.5, 0.5],
               "packages": {"torch": "2.13"}}
    failure = Failure("net", "export (optimized)", "gate", "VerificationError: off by 1", 4)
    plan = LatencyPlan(archs=("net",), blocks=("se", "gate"), targets=parse_targets(["ort-cpu", "torch-eager"]),
                       batches=(1,), iters=5)
    return LatencyAudit(plan, list(plan.targets), {"ort-cuda": "no GPU; to enable it: buy one"},
                        ["plain", "optimized"], {}, [arch], [failure], machine, [0.6, 0.5, 0.5], 12.0)


def test_series_separates_optimized_exports() -> None:
    assert series({"target": "ort-cpu", "export": "optimized"}) == "ort-cpu optimized"
    assert series({"target": "torch-eager", "export": "module"}) == "torch-eager"


def test_markdown_sets_costs_beside_latency_per_series() -> None:
    section = LatencySection(_audit())
    markdown = section.markdown()
    header = next(line for line in markdown.splitlines() if line.startswith("| block"))
    assert header.endswith("| ort-cpu b1 | ort-cpu optimized b1 | torch-eager b1 |")
    se_row = next(line for line in markdown.splitlines() if line.startswith("| `se`"))
    assert "+10.00%" in se_row and "+0.10%" in se_row and "16 → 12" in se_row
    assert "+20.0% [+18.0, +23.0]" in se_row and "+5.0% [+3.0, +8.0]" in se_row
    assert "| `none` (plain) |" in markdown and "2.00 ms" in markdown
    assert "`ort-cuda` skipped: no GPU; to enable it: buy one" in markdown
    assert "### Not measured" in markdown and "off by 1" in markdown
    summary = section.summary()
    assert any(line.startswith("net + se: FLOPs +0.10% (mac)") and "ort-cpu optimized +5%" in line
               for line in summary)
    assert any("1 measurements failed" in line for line in summary)


def test_tables_and_json_are_flat_and_complete() -> None:
    section = LatencySection(_audit())
    tables = section.tables()
    assert len(tables["latency.csv"]) == 7 and tables["latency.csv"][1]["params_overhead_pct"] == pytest.approx(10.0)
    assert [r["onnx_nodes_optimized"] for r in tables["costs.csv"]] == [10, 12, None]
    data = json.loads(json.dumps(section.to_json()))
    assert data["plan"]["targets"] == ["ort-cpu", "torch-eager"] and data["failures"][0]["exit_code"] == 4


def test_plots_are_valid_pngs_even_with_negative_and_zero_overheads() -> None:
    files = LatencySection(_audit()).files()
    assert sorted(files) == ["latency_by_runtime.png", "latency_vs_flops.png"]
    for data in files.values():
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert imread(io.BytesIO(data), format="png").ndim == 3


def test_rewriting_a_report_folder_replaces_its_files_and_keeps_unrelated_ones(tmp_path: Path) -> None:
    section = LatencySection(_audit())
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "old.csv").write_text("stale")
    (tmp_path / "report.json").write_text(json.dumps({"files": ["report.json", "old.csv", "../escape.txt"]}))
    (tmp_path.parent / "escape.txt").write_text("outside")
    write_report(tmp_path, [section])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["costs.csv", "latency.csv", "latency_by_runtime.png", "latency_vs_flops.png", "notes.txt",
                     "report.json", "report.md"]
    assert (tmp_path / "notes.txt").read_text() == "keep me" and (tmp_path.parent / "escape.txt").exists()
