"""``benchmarks/overhead.py``: a latency audit with its own plan; per-runtime overheads from recorded rounds."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import overhead
from overhead_report import markdown, run_key, summarize
from record import RESULTS

SERIES = ("ort-cpu plain", "ort-cpu optimized", "openvino-cpu plain", "openvino-cpu optimized", "torch-eager")


def _run(times: dict[str, float], rounds: int = 9) -> dict[str, Any]:
    """A recorded run whose every model takes ``times[label]`` ms, with ±1% round-to-round wobble."""
    measurements = [{"model": label, "times_ms": [ms * (1 + 0.01 * ((i % 3) - 1)) for i in range(rounds)]}
                    for label, ms in times.items()]
    return {"bench": {"measurements": measurements, "machine": {"load_average": [1.0, 1.0, 1.0]},
                      "load_average_end": [1.0, 1.0, 1.0]}, "table": "| run table |"}


def _data() -> dict[str, Any]:
    """A record of one batch: each series (runtime and export) timed in a run of its own."""
    milliseconds = {
        "ort-cpu optimized": {"none": 20.0, "se": 22.0, "cc-static-scalar": 20.0},
        "ort-cpu plain": {"none": 21.0, "se": 23.1, "cc-static-scalar": 21.0},
        "openvino-cpu optimized": {"none": 19.0, "se": 19.57, "cc-static-scalar": 19.0},
        "openvino-cpu plain": {"none": 19.0, "se": 20.9, "cc-static-scalar": 19.0},
        "torch-eager": {"none": 40.0, "se": 44.0, "cc-static-scalar": 40.0},
        "torch-compile": {"none": 25.0, "se": 26.0, "cc-static-scalar": 25.0}}
    onnx = ["ort-cpu", "openvino-cpu"]
    facts = {label: {r: {"ops": {"Conv": 2}} for r in onnx} for label in ("none", "se", "cc-static-scalar")}
    facts["se"]["ort-cpu"] = {"ops": {"Conv": 2, "Mul": 1}}
    return {"runtimes": [*onnx, "torch-eager", "torch-compile"], "onnx_runtimes": onnx, "batches": [1],
            "labels": ["none", "se", "cc-static-scalar"], "exports": {"optimized": facts},
            "runs": {run_key(name, 1): _run(times) for name, times in milliseconds.items()}}


def test_overheads_per_runtime_and_export_name_the_runtime_where_a_block_costs_least() -> None:
    rows = {row["model"]: row for row in summarize(_data())["overheads"]}
    se = rows["se"]["series"]
    # 22 / 20, 23.1 / 21, 19.57 / 19, 20.9 / 19, 44 / 40, 26 / 25
    expected = {"ort-cpu optimized": 10.0, "ort-cpu plain": 10.0, "openvino-cpu optimized": 3.0,
                "openvino-cpu plain": 10.0, "torch-eager": 10.0, "torch-compile": 4.0}
    assert {name: round(cell["pct"], 6) for name, cell in se.items()} == pytest.approx(expected)
    assert se["openvino-cpu optimized"]["ci_low"] <= 3.0 <= se["openvino-cpu optimized"]["ci_high"]
    assert (rows["se"]["best"], rows["se"]["target_pct"], rows["se"]["met"]) == ("openvino-cpu optimized", 4, True)
    assert rows["cc-static-scalar"]["target_pct"] == 0 and rows["cc-static-scalar"]["met"] is True  # no node left


def test_a_block_that_leaves_a_node_misses_a_zero_target() -> None:
    data = _data()
    data["exports"]["optimized"]["cc-static-scalar"]["openvino-cpu"] = {"ops": {"Conv": 2, "Mul": 1}}
    row = next(r for r in summarize(data)["overheads"] if r["model"] == "cc-static-scalar")
    assert row["met"] is False


def test_speedups_compare_the_fastest_onnx_runtime_with_torch_compile_and_eager() -> None:
    rows = {row["model"]: row for row in summarize(_data())["speedups"]}
    none = rows["none"]
    assert none["fastest_onnx"] in ("openvino-cpu optimized", "openvino-cpu plain")
    assert none["speedups"] == pytest.approx({"torch-compile": 25 / 19, "torch-eager": 40 / 19})
    assert none["met"] is True  # 1.32x >= 1.15x, 2.1x >= 1.5x


def test_the_page_holds_every_table_every_runs_own_and_what_was_not_measured() -> None:
    data = {**_data(), "evidence": {}, "recorded": "2026-01-01T00:00:00+00:00", "arch": "resnet50",
            "input_chw": [3, 224, 224], "threads": 2, "spinning": True, "load_average_end": [1.0, 1.0, 1.0],
            "machine": {"cpu": "Test CPU", "cores_available": 2, "os": "Linux", "load_average": [1.0, 1.0, 1.0],
                        "packages": {"torch": "2.13"}},
            "failures": [{"stage": "timing", "what": "torch-compile optimized batch 8", "error": "BenchmarkError: x"}]}
    page = markdown({**data, **summarize(data)})
    se = next(line for line in page.splitlines() if line.startswith("| se | 1 |"))
    assert "**+3.0% [" in se and se.endswith("| openvino-cpu optimized | <= 4% | yes |")
    assert "machine: Test CPU, 2 cores available" in page and page.count("| run table |") == 6
    assert "## Not measured\n\n- timing, torch-compile optimized batch 8: BenchmarkError: x" in page


def test_a_record_made_before_the_audit_timed_each_export_apart_still_renders_its_page() -> None:
    """Both exports of a runtime in one run, plain ones labelled ``<label> [plain export]``: every table
    row of the committed page comes back from its JSON."""
    recorded = RESULTS / "overhead-amd-epyc-2c-2026-12-05.json"
    data = json.loads(recorded.read_text(encoding="utf-8"))
    page = markdown({**data, **summarize(data)})
    rows = [line for line in recorded.with_suffix(".md").read_text(encoding="utf-8").splitlines()
            if line.startswith("|")]
    assert len(rows) > 100 and [line for line in page.splitlines() if line.startswith("|")] == rows


@pytest.mark.slow  # 17-20 s; the page tests above render recorded runs in the default run
def test_a_small_run_times_every_runtime_and_export_apart_and_records_the_executed_graphs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The CC paper's MNIST net with SE on onnxruntime, OpenVINO and torch eager, a few rounds (torch
    fewer); the page made from the record is the page ``--render`` makes of it."""
    pytest.importorskip("openvino")
    argv = ["--arch", "cc_vgg_mnist", "--block", "se", "--runtime", "ort-cpu,openvino-cpu,torch-eager",
            "--batch", "1", "--iters", "3", "--torch-iters", "2", "--warmup", "1", "--threads", "1",
            "--no-spinning", "--out", str(tmp_path), "--tag", "t"]
    assert overhead.main(argv) == 0
    assert "timed torch-eager-b1" in capsys.readouterr().out
    [page_path] = tmp_path.glob("overhead-*-t.md")
    data = json.loads(page_path.with_suffix(".json").read_text())
    # each runtime's plain and optimised exports are timed in the same rounds: one run per runtime
    assert list(data["runs"]) == [run_key(name, 1) for name in ("ort-cpu", "openvino-cpu", "torch-eager")]
    for key, run in data["runs"].items():
        onnx = not key.startswith("torch")
        assert [m["model"] for m in run["bench"]["measurements"]] == (
            ["none [plain export]", "se [plain export]", "none", "se"] if onnx else ["none", "se"])
        assert {len(m["times_ms"]) for m in run["bench"]["measurements"]} == {2 if key.startswith("torch") else 3}
    assert data["runs"]["ort-cpu-b1"]["bench"]["settings"]["runtime_options"] == {"ort-cpu": {"spinning": False}}
    assert data["exports"]["plain"]["se"]["ort-cpu"]["form"] == "plain"
    assert data["exports"]["optimized"]["se"]["openvino-cpu"]["form"].startswith("optimised for")
    assert list(data["evidence"]) == ["evidence-ort-cpu-b1", "evidence-openvino-cpu-b1"]
    layout = data["evidence"]["evidence-ort-cpu-b1"]
    assert layout["se"]["optimized"]["nchwc_nodes"] > layout["none"]["optimized"]["nchwc_nodes"]
    assert set(data["evidence"]["evidence-openvino-cpu-b1"]["se"]) == {"plain", "optimized"}
    costs = {c["label"]: c["params"] for c in data["costs"]}
    assert costs["se"] > costs["none"] > 0 and data["failures"] == []
    [row] = data["overheads"]
    assert (row["model"], set(row["series"])) == ("se", set(SERIES))
    page = page_path.read_text()
    assert "| se | 1 |" in page and "- input 1x28x28, 1 threads per runtime" in page
    page_path.unlink()
    assert overhead.main(["--render", str(page_path.with_suffix(".json"))]) == 0
    assert page_path.read_text() == page
