"""``recalib.deploy.bench.compare``: alternating comparisons, parity before timing, worker processes, typed results."""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn

from recalib.deploy._worker import Job, WorkerError, run_job
from recalib.deploy.bench import _raise_from, compare
from recalib.deploy.report import format_table
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.settings import BenchSettings
from recalib.deploy.target import parse_targets
from recalib.export.prepared import Prepared
from recalib.errors import BackendUnavailable, ConfigError, VerificationError
from recalib.spec import Spec

from deploy_testing import INPUT_CHW, tiny_net

Models = dict[str, tuple[nn.Module, Path]]


def _prepared(models: Models) -> list[Prepared]:
    return [Prepared(label, Spec(label, "arch"), INPUT_CHW, module, file=path)
            for label, (module, path) in models.items()]


def _settings(runtimes: list[str], **overrides: object) -> BenchSettings:
    settings: dict = dict(targets=parse_targets(runtimes), batches=(1, 2), warmup=1, iters=5, threads=1,
                          isolate=False)
    settings.update(overrides)
    return BenchSettings(**settings)


def test_result_has_typed_stats_per_model_and_ratios_against_the_baseline(tiny_models: Models) -> None:
    result = compare(_prepared(tiny_models), _settings(["ort-cpu"]))
    assert result.baseline == "plain" and [m.label for m in result.models] == ["plain", "gated"]
    assert [(m.target, m.batch, m.label) for m in result.measurements] == [
        ("ort-cpu", 1, "plain"), ("ort-cpu", 1, "gated"), ("ort-cpu", 2, "plain"), ("ort-cpu", 2, "gated")]
    for m in result.measurements:
        assert m.stats.n == 5 and m.stats.batch == m.batch and len(m.times_ms) == 5
        assert m.stats.min_ms <= m.stats.p50_ms <= m.stats.p90_ms <= m.stats.p95_ms <= m.stats.p99_ms <= m.stats.max_ms
        assert (m.ratio is None) == (m.label == "plain")
    gated = result.get("ort-cpu", 1, "gated")
    assert gated.ratio is not None and gated.ratio.ci_low <= gated.ratio.ratio <= gated.ratio.ci_high
    assert gated.row()["overhead_pct"] == pytest.approx((gated.ratio.ratio - 1) * 100)
    assert {p.label for p in result.parity} == {"plain", "gated"}
    assert all(p.passed and p.runtime == "ort-cpu" and p.reference_dtype == "float64" for p in result.parity)
    assert result.machine.cores_available >= 1 and result.settings.threads == 1


def test_each_runtime_runs_in_its_own_worker_process(tiny_models: Models) -> None:
    result = compare(_prepared(tiny_models), _settings(["torch-eager", "ort-cpu"], batches=(2,), isolate=True))
    assert [m.target for m in result.measurements] == ["torch-eager"] * 2 + ["ort-cpu"] * 2
    # torch-eager runs the folded module: float32 rounding away from the float64 truth, within the bound
    eager = [p for p in result.parity if p.runtime == "torch-eager"]
    assert len(eager) == 2 and all(0 < p.error <= p.bound for p in eager)


def test_an_onnx_file_that_is_not_the_module_fails_verification_before_timing(tiny_models: Models) -> None:
    gated_module, plain_file = tiny_models["gated"][0], tiny_models["plain"][1]
    wrong = [Prepared("plain", Spec("plain", "arch"), INPUT_CHW, gated_module, file=plain_file)]
    with pytest.raises(VerificationError, match="further from the float64 truth") as info:
        compare(wrong, _settings(["ort-cpu"]))
    assert info.value.exit_code == 4
    with pytest.raises(VerificationError, match="plain on ort-cpu"):
        compare(wrong, _settings(["ort-cpu"], batches=(1,), isolate=True))


def test_worker_errors_are_raised_again_with_their_class_and_fields(tiny_models: Models) -> None:
    from recalib.deploy.availability import unavailable_reason

    if unavailable_reason("ort-cuda") is None:
        pytest.skip("ort-cuda is available on this machine")
    job = Job(target=parse_targets(["ort-cuda"])[0], labels=["plain"], sources=[tiny_models["plain"][1]],
              input_chws=[INPUT_CHW], batches=[1], warmup=0, iters=1, options=RunnerOptions(threads=1))
    outcome = run_job(job)
    assert isinstance(outcome, WorkerError)
    with pytest.raises(BackendUnavailable) as info:
        _raise_from(outcome)
    assert info.value.backend == "ort-cuda" and ".[gpu]" in info.value.hint


def test_what_cannot_be_measured_is_refused_before_timing(tiny_models: Models) -> None:
    plain, gated = _prepared(tiny_models)
    with pytest.raises(ConfigError, match="own label"):
        compare([plain, replace(gated, label="plain")], _settings(["ort-cpu"]))
    file_only = replace(plain, module=None)
    with pytest.raises(ConfigError, match="runs PyTorch models"):
        compare([file_only], _settings(["torch-eager"]))
    with pytest.raises(ConfigError, match="exported for batch 4 only"):
        compare([replace(plain, fixed_batch=4)], _settings(["ort-cpu"]))


@pytest.mark.parametrize("overrides, message", [({"batches": (0,)}, "batch"), ({"iters": 0}, "iters"),
                                                ({"threads": 0}, "threads"), ({"tolerance": -1.0}, "tolerance"),
                                                ({"runtime_options": {"tensorrt": RunnerOptions()}}, "not measured"),
                                                ({"runtime_options": {"ort-cpu": RunnerOptions(threads=2)}},
                                                 "one setting of the whole comparison")])
def test_bad_settings_are_config_errors(overrides: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _settings(["ort-cpu"], **overrides)


def test_a_tensorrt_engine_is_measured_with_the_shape_of_its_header_and_only_by_tensorrt(tmp_path: Path) -> None:
    from recalib.deploy.backends.tensorrt.engine_file import EngineMeta, Platform, save
    from recalib.deploy.bench import load_model
    from recalib.spec import parse_spec

    meta = EngineMeta(Platform("10.13.0.35", "NVIDIA L4", "8.9"), "fp16", "input", "float32",
                      (4, 3, 224, 224), (4, 3, 224, 224), (4, 3, 224, 224), "ab" * 32)
    engine = load_model(parse_spec(str(save(tmp_path / "m.engine", meta, b"plan"))))
    assert (engine.input_chw, engine.fixed_batch, engine.module) == ((3, 224, 224), 4, None)
    assert "TensorRT 10.13.0.35, fp16" in engine.verified
    with pytest.raises(ConfigError, match="only the tensorrt runtime runs it"):
        compare([engine], _settings(["ort-cpu"], batches=(4,)))


class _Sleepy(nn.Module):
    """``inner``, with every third call made 30 ms slower: a slow tail no machine's quiet can hide."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.calls = inner, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls % 3 == 0:
            time.sleep(0.03)
        return self.inner(x)


def _sleepy_pair() -> list[Prepared]:
    """A tiny network and the same one sleeping every third call (fresh modules, in eval mode)."""
    return [Prepared("plain", Spec("plain", "arch"), INPUT_CHW, tiny_net()),
            Prepared("sleepy", Spec("sleepy", "arch"), INPUT_CHW, _Sleepy(tiny_net()).eval())]


def test_a_sleeping_model_is_marked_noisy_in_the_result_and_the_table() -> None:
    models = _sleepy_pair()
    result = compare(models, _settings(["torch-eager"], batches=(1,), iters=12))
    sleepy = result.get("torch-eager", 1, "sleepy")
    assert sleepy.stats.tail > 1.5 and any(reason.startswith("p90/p50") for reason in sleepy.noise)
    assert sleepy.row()["noisy"] is True and sleepy.load is not None and sleepy.cores is not None
    table = format_table(result)
    row = next(line for line in table.splitlines() if line.startswith("torch-eager") and "sleepy" in line)
    assert row.rstrip().endswith("NOISY")
    assert "NOISY: torch-eager batch 1 sleepy: " in table and "rerun it on a quieter machine" in table


def test_repeat_runs_report_each_runs_overhead_beside_the_pooled_rounds(tiny_models: Models) -> None:
    result = compare(_prepared(tiny_models), _settings(["ort-cpu"], batches=(1,), iters=4, repeat=3))
    gated, plain = result.get("ort-cpu", 1, "gated"), result.get("ort-cpu", 1, "plain")
    assert gated.stats.n == plain.stats.n == 12 and len(gated.repeats) == 3 and plain.repeats == ()
    assert gated.repeat_range() == (min(gated.repeats), max(gated.repeats))
    assert len(result.parity) == 2  # judged once, in the first run
    table = format_table(result)
    assert "3 runs per runtime in fresh processes" in table and "overhead per run" in table


def test_a_duration_times_rounds_until_it_has_passed() -> None:
    result = compare(_sleepy_pair(), _settings(["torch-eager"], batches=(1,), duration=0.2))
    # a round takes 10 ms on average (30 ms every third call): about 20 rounds in 0.2 s, never fewer than 3
    assert 3 <= result.get("torch-eager", 1, "plain").stats.n <= 21
    assert "0.2 s of timed rounds" in format_table(result)
    with pytest.raises(ConfigError, match="duration is seconds"):
        _settings(["torch-eager"], duration=0)


def test_a_file_in_the_wrong_precision_is_refused_before_any_spec_is_built(tiny_models: Models, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """``recalib bench SPEC int8.onnx`` at fp32: the QDQ file is refused before SPEC is built or exported."""
    from recalib.deploy import bench as bench_module
    from recalib.export.options import Quantization
    from recalib.export.quantize.calibration import load_calibration
    from recalib.export.quantize.recipe import quantize_graph
    from recalib.spec import parse_spec

    int8_path = tmp_path / "int8.onnx"
    quantize_graph(tiny_models["gated"][1], int8_path, Quantization(load_calibration("random", INPUT_CHW)), None)
    loaded: list[str] = []
    real_load = bench_module.load_model

    def recording_load(spec: Spec, options: object) -> Prepared:
        loaded.append(spec.kind)
        return real_load(spec, options)  # type: ignore[arg-type]

    monkeypatch.setattr(bench_module, "load_model", recording_load)
    specs = [parse_spec("cifar_resnet20"), parse_spec(str(int8_path))]
    with pytest.raises(ConfigError, match="is an int8 \\(QDQ\\) graph; run it with precision int8"):
        bench_module.bench(specs, _settings(["ort-cpu"]))
    assert loaded == ["onnx"]  # the file was read; the architecture was never built
    float_specs = [parse_spec("cifar_resnet20"), parse_spec(str(tiny_models["plain"][1]))]
    int8_settings = _settings(["ort-cpu"], runtime_options={"ort-cpu": RunnerOptions(precision="int8")})
    with pytest.raises(ConfigError, match="is a float graph; int8 runs the quantised"):
        bench_module.bench(float_specs, int8_settings)
    assert loaded == ["onnx", "onnx"]
