"""``benchmarks/gpu_overhead.py``'s dry run on the CPU: every code path that does not need CUDA."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import gpu_overhead


def _record(folder: Path) -> tuple[dict, str]:
    [page] = folder.glob("gpu-overhead-*.md")
    return json.loads(page.with_suffix(".json").read_text()), page.read_text()


def test_a_spent_budget_stops_new_calls_and_lists_what_did_not_run(tmp_path: Path) -> None:
    assert gpu_overhead.main(["--dry-run", "--iters", "3", "--warmup", "1", "--budget", "0", "--out", str(tmp_path)]) == 0
    data, page = _record(tmp_path)
    assert list(data["runs"]) == ["torch-eager fp32"] and data["device"] == "cpu"
    assert sorted(data["not_run"]) == ["cuda-graphs fp32", "torch-compile fp32"]
    eager = data["runs"]["torch-eager fp32"]["bench"]
    assert [(m["batch"], m["model"].split("+")[-1]) for m in eager["measurements"]] == [
        (1, "cifar_resnet20:input_size=(16,16)"), (1, "se"), (2, "cifar_resnet20:input_size=(16,16)"), (2, "se")]
    assert all(len(m["times_ms"]) == 3 for m in eager["measurements"])
    assert "dry run on the CPU" in page and "- cuda-graphs fp32 not run: the budget of 0 s was spent" in page


def test_the_plan_on_a_gpu_is_every_series_precision_and_batch() -> None:
    args = gpu_overhead.parse_args([])
    assert gpu_overhead.plan(args) == ("resnet50", "cuda", ("fp16", "bf16", "fp32"), (1, 8, 32))
    assert [s.name for s in gpu_overhead.SERIES] == ["torch-eager", "cuda-graphs", "torch-compile"]
    assert gpu_overhead.SERIES[1].options("bf16").compile_mode == "reduce-overhead"


@pytest.mark.slow
def test_the_dry_run_times_every_series_on_the_cpu(tmp_path: Path) -> None:
    assert gpu_overhead.main(["--dry-run", "--iters", "3", "--warmup", "1", "--out", str(tmp_path)]) == 0
    data, _ = _record(tmp_path)
    assert list(data["runs"]) == ["torch-eager fp32", "cuda-graphs fp32", "torch-compile fp32"] and not data["not_run"]
    assert all("bench" in run for run in data["runs"].values())
