"""``benchmarks/overhead.py``: per-runtime overheads from recorded rounds, the cheapest runtime, resuming."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import overhead
from overhead_report import PLAIN, markdown, summarize


def _run(times: dict[str, float], rounds: int = 9) -> dict[str, Any]:
    """A recorded run whose every model takes ``times[label]`` ms, with ±1% round-to-round wobble."""
    measurements = [{"model": label, "times_ms": [ms * (1 + 0.01 * ((i % 3) - 1)) for i in range(rounds)]}
                    for label, ms in times.items()]
    return {"bench": {"measurements": measurements, "machine": {"load_average": [1.0, 1.0, 1.0]},
                      "load_average_end": [1.0, 1.0, 1.0]}, "table": "| run table |"}


def _data() -> dict[str, Any]:
    ops = {"Conv": 2}
    onnx = {"ort-cpu": _run({"none": 20.0, "none" + PLAIN: 21.0, "se": 22.0, "se" + PLAIN: 23.1,
                             "cc-static-scalar": 20.0, "cc-static-scalar" + PLAIN: 21.0}),
            "openvino-cpu": _run({"none": 19.0, "none" + PLAIN: 19.0, "se": 19.57, "se" + PLAIN: 20.9,
                                  "cc-static-scalar": 19.0, "cc-static-scalar" + PLAIN: 19.0})}
    torch = {"torch-eager": _run({"none": 40.0, "se": 44.0, "cc-static-scalar": 40.0}),
             "torch-compile": _run({"none": 25.0, "se": 26.0, "cc-static-scalar": 25.0})}
    facts = {label: {r: {"ops": ops} for r in onnx} for label in ("none", "se", "cc-static-scalar")}
    facts["se"]["ort-cpu"] = {"ops": {"Conv": 2, "Mul": 1}}
    return {"runtimes": [*onnx, *torch], "onnx_runtimes": list(onnx), "batches": [1],
            "labels": ["none", "se", "cc-static-scalar"], "exports": {"optimized": facts},
            "runs": {f"{r}-b1": run for r, run in {**onnx, **torch}.items()}}


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


def test_the_page_holds_every_table_and_every_runs_own() -> None:
    data = {**_data(), "evidence": {}, "recorded": "2026-01-01T00:00:00+00:00", "arch": "resnet50",
            "input_chw": [3, 224, 224], "threads": 2, "spinning": True, "load_average_end": [1.0, 1.0, 1.0],
            "machine": {"cpu": "Test CPU", "cores_available": 2, "os": "Linux", "load_average": [1.0, 1.0, 1.0],
                        "packages": {"torch": "2.13"}}}
    page = markdown({**data, **summarize(data)})
    se = next(line for line in page.splitlines() if line.startswith("| se | 1 |"))
    assert "**+3.0% [" in se and se.endswith("| openvino-cpu optimized | <= 4% | yes |")
    assert "machine: Test CPU, 2 cores available" in page and page.count("| run table |") == 4


def test_a_rerun_loads_a_finished_run_with_the_same_settings_and_measures_a_changed_one(tmp_path: Path) -> None:
    calls: list[int] = []

    def measure() -> dict[str, Any]:
        calls.append(1)
        return {"rounds": len(calls)}

    def log(message: str) -> None:
        pass

    assert overhead.cached(tmp_path, "ort-cpu-b1", {"iters": 5}, measure, log) == {"rounds": 1}
    assert overhead.cached(tmp_path, "ort-cpu-b1", {"iters": 5}, measure, log) == {"rounds": 1}
    assert overhead.cached(tmp_path, "ort-cpu-b1", {"iters": 6}, measure, log) == {"rounds": 2}
    assert json.loads((tmp_path / "ort-cpu-b1.json").read_text())["job_settings"] == {"iters": 6}


def test_a_small_run_times_the_runtime_on_its_own_export_and_records_the_executed_graph(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One runtime, one block (the bench CLI's tests cover several runtimes' exports side by side);
    run twice with ``--work``, the second run measures and exports nothing."""
    pytest.importorskip("openvino")
    argv = ["--arch", "cc_vgg_mnist", "--block", "cc-reduced", "--runtime", "openvino-cpu", "--batch", "1",
            "--iters", "3", "--warmup", "1", "--threads", "1", "--out", str(tmp_path), "--tag", "t",
            "--work", str(tmp_path / "work")]
    assert overhead.main(argv) == 0
    first = (tmp_path / next(p.name for p in tmp_path.glob("*.json"))).read_text()
    assert "exported" in capsys.readouterr().out
    assert overhead.main(argv) == 0
    log = capsys.readouterr().out
    assert "exported" not in log and "openvino-cpu-b1: loaded from" in log
    [page] = tmp_path.glob("overhead-*-t.md")
    data = json.loads(page.with_suffix(".json").read_text())
    assert data["exports"]["optimized"]["cc-reduced"]["openvino-cpu"]["form"] == "optimised for openvino"
    assert list(data["runs"]) == ["openvino-cpu-b1"]
    graphs = data["evidence"]["evidence-openvino-cpu-b1"]["cc-reduced"]
    assert graphs["plain"]["reorders"] > graphs["optimized"]["reorders"] == 2  # OpenVINO's CC form: none added
    assert set(data["overheads"][0]["series"]) == {"openvino-cpu plain", "openvino-cpu optimized"}
    assert json.loads(first)["runs"] == data["runs"]
    page.unlink()
    assert overhead.main(["--render", str(page.with_suffix(".json"))]) == 0
    assert "| cc-reduced | 1 |" in page.read_text()
