"""CPU runners agree with PyTorch, time what they run, and refuse what they cannot run."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from recalib.deploy import create_runner
from recalib.deploy.backends.ort import OrtRunner
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.runner import random_input
from recalib.errors import BackendUnavailable, ConfigError, ShapeError

from deploy_testing import INPUT_CHW, Models, pytorch_output as _expected, tiny_net


@pytest.mark.parametrize("backend", ["ort-cpu", "openvino-cpu"])
@pytest.mark.parametrize("batch", [1, 3])
def test_cpu_onnx_runtimes_match_pytorch_at_every_batch(tiny_models: Models, batch: int, backend: str) -> None:
    module, path = tiny_models["gated"]
    runner = create_runner(backend, path, RunnerOptions(threads=1))
    x = random_input((batch, *INPUT_CHW), seed=batch)
    np.testing.assert_allclose(runner.run(x), _expected(module, x), rtol=1e-4, atol=1e-5)


def test_torch_eager_matches_pytorch_and_accepts_tensors(tiny_models: Models) -> None:
    module, _ = tiny_models["plain"]
    runner = create_runner("torch-eager", module)
    x = random_input((2, *INPUT_CHW))
    np.testing.assert_array_equal(runner.run(torch.from_numpy(x)), _expected(module, x))


def test_torch_compile_matches_pytorch_with_its_weights_frozen_into_the_graph() -> None:
    module = tiny_net()
    runner = create_runner("torch-compile", module)
    x = random_input((2, *INPUT_CHW))
    compiled = runner.run(x)
    np.testing.assert_allclose(compiled, _expected(module, x), rtol=1e-4, atol=1e-5)
    assert runner.settings == {"mode": "default", "freezing": True}
    with torch.no_grad():  # frozen: the compiled graph holds the weights as constants
        for parameter in module.parameters():
            parameter.mul_(2)
    np.testing.assert_array_equal(runner.run(x), compiled)


def test_benchmark_returns_stats_of_the_requested_runs(tiny_models: Models) -> None:
    _, path = tiny_models["plain"]
    stats = create_runner("ort-cpu", path, RunnerOptions(threads=1)).benchmark((4, *INPUT_CHW), warmup=2, iters=7)
    assert stats.n == 7 and stats.batch == 4
    assert 0 < stats.min_ms <= stats.median_ms <= stats.p90_ms <= stats.p99_ms <= stats.max_ms
    assert stats.throughput == pytest.approx(4 / (stats.mean_ms / 1e3))


def test_ort_session_has_fixed_threads_and_spins_only_during_a_run(tiny_models: Models) -> None:
    _, path = tiny_models["plain"]
    options = OrtRunner(path, options=RunnerOptions(threads=1)).session.get_session_options()
    assert options.intra_op_num_threads == 1 and options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "1"
    assert options.get_session_config_entry("session.force_spinning_stop") == "1"
    quiet = OrtRunner(path, options=RunnerOptions(threads=1, spinning=False)).session.get_session_options()
    assert quiet.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert quiet.get_session_config_entry("session.inter_op.allow_spinning") == "0"


@pytest.mark.parametrize("backend", ["ort-cpu", "openvino-cpu"])
def test_cpu_onnx_runtimes_refuse_an_input_of_another_size(tiny_models: Models, backend: str) -> None:
    _, path = tiny_models["plain"]
    runner = create_runner(backend, path, RunnerOptions(threads=1))
    with pytest.raises(ShapeError, match="re-export"):
        runner.run(random_input((1, 3, 8, 16)))
    with pytest.raises(ShapeError):
        runner.prepare((1, 3, 16, 8))


def test_torch_runtime_refuses_an_onnx_file_and_onnx_runtime_a_module(tiny_models: Models) -> None:
    module, path = tiny_models["plain"]
    with pytest.raises(ConfigError, match="PyTorch module"):
        create_runner("torch-eager", path)
    with pytest.raises(ConfigError, match="export"):
        create_runner("ort-cpu", module)
    with pytest.raises(ConfigError, match="does not exist"):
        create_runner("ort-cpu", path.with_name("missing.onnx"))


def test_ort_cpu_refuses_fp16_precision(tiny_models: Models) -> None:
    _, path = tiny_models["plain"]
    with pytest.raises(ConfigError, match="ort-cpu computes in fp32, int8, not 'fp16'; fp16 runs on .*tensorrt"):
        create_runner("ort-cpu", path, RunnerOptions(precision="fp16"))


@pytest.mark.parametrize("runtime", ["ort-cpu", "openvino-cpu"])
def test_int8_runs_the_qdq_graph_and_only_it(tiny_models: Models, tmp_path, runtime: str) -> None:
    from recalib.deploy.availability import unavailable_reason
    from recalib.export.options import Quantization
    from recalib.export.quantize.calibration import load_calibration
    from recalib.export.quantize.recipe import quantize_graph

    if unavailable_reason(runtime):
        pytest.skip(f"{runtime} is not available here")
    _, path = tiny_models["gated"]
    int8_path = tmp_path / "int8.onnx"
    quantize_graph(path, int8_path, Quantization(load_calibration("random", INPUT_CHW)), None)
    x = np.random.default_rng(0).standard_normal((2, *INPUT_CHW)).astype(np.float32)
    float_out = create_runner(runtime, path, RunnerOptions(threads=1)).run(x)
    int8_out = create_runner(runtime, int8_path, RunnerOptions(threads=1, precision="int8")).run(x)
    assert 0 < np.abs(int8_out - float_out).max() < 0.25 * np.abs(float_out).max()
    with pytest.raises(ConfigError, match="is a float graph; int8 runs the quantised"):
        create_runner(runtime, path, RunnerOptions(precision="int8"))
    with pytest.raises(ConfigError, match="is an int8 \\(QDQ\\) graph; run it with precision int8"):
        create_runner(runtime, int8_path)


def test_a_setting_the_runtime_does_not_read_is_refused_not_ignored(tiny_models: Models) -> None:
    module, path = tiny_models["plain"]
    with pytest.raises(ConfigError, match="torch-eager does not take hint='throughput': hint is a setting of "
                                          "openvino-cpu"):
        create_runner("torch-eager", module, RunnerOptions(hint="throughput"))
    with pytest.raises(ConfigError, match="compile_mode='max-autotune'.*torch-compile"):
        create_runner("ort-cpu", path, RunnerOptions(compile_mode="max-autotune"))


@pytest.mark.parametrize("backend", ["ort-cuda", "ort-tensorrt", "tensorrt"])
def test_gpu_runtimes_raise_backend_unavailable_here(tiny_models: Models, backend: str) -> None:
    from recalib.deploy.availability import unavailable_reason

    if unavailable_reason(backend, "cuda") is None:
        pytest.skip(f"{backend} is available on this machine")
    _, path = tiny_models["plain"]
    with pytest.raises(BackendUnavailable, match="pip install"):
        create_runner(backend, path)


class _Recording(torch.nn.Module):
    """Identity that keeps the last input it saw."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x.clone()
        return x


def test_a_prepared_step_runs_on_the_images_given_and_refuses_other_shapes() -> None:
    runner = create_runner("torch-eager", _Recording().eval())
    images = np.random.default_rng(4).random((2, *INPUT_CHW), dtype=np.float32)
    runner.prepare((2, *INPUT_CHW), images)()
    assert np.array_equal(runner.module.seen.numpy(), images)
    runner.prepare((2, *INPUT_CHW))()
    assert np.array_equal(runner.module.seen.numpy(), random_input((2, *INPUT_CHW)))
    with pytest.raises(ConfigError, match=r"the timing input has shape \(2, 3, 16, 16\), not \(1, 3, 16, 16\)"):
        runner.prepare((1, *INPUT_CHW), images)
