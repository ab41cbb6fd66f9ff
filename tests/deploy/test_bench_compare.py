"""``deploy.bench.compare``: alternating comparisons, parity before timing, worker processes."""
from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from deploy._worker import Job, run_job
from deploy.bench import BenchConfig, Candidate, _raise_from, compare
from deploy.report import records
from recalib.errors import BackendUnavailable, ConfigError, VerificationError

from deploy_testing import INPUT_CHW

Models = dict[str, tuple[nn.Module, Path]]


def _candidates(models: Models) -> list[Candidate]:
    return [Candidate(label, module, path) for label, (module, path) in models.items()]


def _config(runtimes: list[str], **overrides: object) -> BenchConfig:
    settings: dict = dict(runtimes=runtimes, batches=[1, 2], input_chw=INPUT_CHW, warmup=1, iters=5,
                          threads=1, isolate=False)
    settings.update(overrides)
    return BenchConfig(**settings)


def test_report_has_stats_per_model_and_ratios_against_the_baseline(tiny_models: Models) -> None:
    report = compare(_candidates(tiny_models), _config(["ort-cpu"]))
    assert report["labels"] == ["plain", "gated"]
    assert [(r["runtime"], r["batch"]) for r in report["results"]] == [("ort-cpu", 1), ("ort-cpu", 2)]
    for result in report["results"]:
        assert set(result["stats"]) == {"plain", "gated"} and set(result["ratios"]) == {"gated"}
        assert result["stats"]["gated"]["n"] == 5 and result["stats"]["gated"]["batch"] == result["batch"]
        ratio = result["ratios"]["gated"]
        assert ratio["ci_low"] <= ratio["ratio"] <= ratio["ci_high"]
    assert set(report["max_abs_error"]["ort-cpu"]) == {"plain", "gated"}
    assert max(report["max_abs_error"]["ort-cpu"].values()) < 1e-4
    assert report["machine"]["cores_available"] >= 1 and report["config"]["threads"] == 1
    flat = records(report)
    assert [(r["batch"], r["model"]) for r in flat] == [(1, "plain"), (1, "gated"), (2, "plain"), (2, "gated")]
    assert flat[0]["overhead_pct"] is None
    assert flat[1]["overhead_pct"] == pytest.approx((report["results"][0]["ratios"]["gated"]["ratio"] - 1) * 100)


def test_each_runtime_runs_in_its_own_worker_process(tiny_models: Models) -> None:
    report = compare(_candidates(tiny_models), _config(["torch-eager", "ort-cpu"], batches=[2],
                                                       isolate=True))
    assert [r["runtime"] for r in report["results"]] == ["torch-eager", "ort-cpu"]
    assert report["max_abs_error"]["torch-eager"] == {"plain": 0.0, "gated": 0.0}


def test_an_onnx_file_that_is_not_the_module_fails_verification_before_timing(tiny_models: Models) -> None:
    wrong = [Candidate("plain", tiny_models["gated"][0], tiny_models["plain"][1])]
    with pytest.raises(VerificationError, match="differs from PyTorch") as info:
        compare(wrong, _config(["ort-cpu"]))
    assert info.value.exit_code == 4


def test_a_verification_failure_in_a_worker_process_reaches_the_caller(tiny_models: Models) -> None:
    wrong = [Candidate("plain", tiny_models["gated"][0], tiny_models["plain"][1])]
    with pytest.raises(VerificationError, match="ort-cpu output of 'plain'"):
        compare(wrong, _config(["ort-cpu"], batches=[1], isolate=True))


def test_worker_errors_are_raised_again_with_their_class_and_fields(tiny_models: Models) -> None:
    from deploy.availability import unavailable_reason

    if unavailable_reason("ort-cuda", "cuda") is None:
        pytest.skip("ort-cuda is available on this machine")
    job = Job(runtime="ort-cuda", labels=["plain"], sources=[tiny_models["plain"][1]], batches=[1],
              input_chw=INPUT_CHW, warmup=0, iters=1, threads=1, device="cuda")
    result = run_job(job)
    with pytest.raises(BackendUnavailable) as info:
        _raise_from(result["error"])
    assert info.value.backend == "ort-cuda" and ".[gpu]" in info.value.hint


def test_bad_settings_are_config_errors(tiny_models: Models) -> None:
    with pytest.raises(ConfigError, match="batch"):
        _config(["ort-cpu"], batches=[0])
    with pytest.raises(ConfigError, match="iters"):
        _config(["ort-cpu"], iters=0)
    twins = [Candidate("x", *tiny_models["plain"]), Candidate("x", *tiny_models["gated"])]
    with pytest.raises(ConfigError, match="unique"):
        compare(twins, _config(["ort-cpu"]))
