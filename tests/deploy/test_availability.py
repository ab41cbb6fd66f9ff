"""Which backends run here, and the errors (with install hints) for those that cannot."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from recalib.deploy.availability import BACKENDS, backend, backend_matrix, require, tensorrt_module, unavailable_reason
from recalib.deploy.runner import create_runner
from recalib.deploy.runner_options import RunnerOptions
from recalib.errors import BackendUnavailable, ConfigError


def _skip_if_available(backend: str) -> None:
    if unavailable_reason(backend) is None:
        pytest.skip(f"{backend} is available on this machine")


def test_matrix_has_one_row_per_backend_with_hints_for_missing_ones() -> None:
    rows = backend_matrix()
    assert [r["name"] for r in rows] == list(BACKENDS)
    for row in rows:
        assert set(row) == {"name", "available", "reason", "hint"}
        assert (row["hint"] is None) == row["available"]
    assert rows[0]["available"]  # torch-eager always runs


def test_cpu_backends_are_available_here_and_run_a_model(tmp_path: Path) -> None:
    import torch
    from torch import nn

    from recalib.export.onnx_export import to_onnx

    rows = {row["name"]: row for row in backend_matrix()}
    assert rows["torch-eager"]["available"] and rows["ort-cpu"]["available"]
    assert unavailable_reason("torch-eager") is None and unavailable_reason("ort-cpu") is None
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    path = tmp_path / "m.onnx"
    to_onnx(model, (3, 6, 6), path)
    x = torch.randn(1, 3, 6, 6)
    expected = model(x).detach().numpy()
    for name, source in (("torch-eager", model), ("ort-cpu", path)):
        got = create_runner(name, source, RunnerOptions(threads=1)).run(x)
        assert got.shape == (1, 4, 4, 4) and abs(got - expected).max() < 1e-5


@pytest.mark.parametrize("runtime", ["ort-cuda", "ort-tensorrt"])
def test_gpu_onnxruntime_providers_raise_with_the_gpu_extra_hint(runtime: str) -> None:
    _skip_if_available(runtime)
    with pytest.raises(BackendUnavailable) as info:
        require(runtime)
    assert info.value.backend == runtime and info.value.exit_code == 3
    assert '.[gpu' in info.value.hint and "conflict" in backend("ort-cuda").hint
    assert "pip uninstall -y onnxruntime" in str(info.value)


def test_tensorrt_raises_with_the_tensorrt_extra_hint() -> None:
    _skip_if_available("tensorrt")
    with pytest.raises(BackendUnavailable) as info:
        require("tensorrt")
    assert '.[tensorrt]' in info.value.hint and "NVIDIA GPU" in info.value.hint


def test_tensorrt_stubs_alone_are_not_mistaken_for_tensorrt(monkeypatch: pytest.MonkeyPatch) -> None:
    """tensorrt-stubs makes ``import tensorrt`` succeed as an empty namespace package."""
    stubs_only = types.ModuleType("tensorrt")  # what importing the stubs' folder gives: no Builder
    monkeypatch.setitem(sys.modules, "tensorrt", stubs_only)
    assert tensorrt_module() is None
    assert "not installed" in str(unavailable_reason("tensorrt"))
    real = types.ModuleType("tensorrt")
    real.Builder = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tensorrt", real)
    assert tensorrt_module() is real


def test_torch_on_cuda_without_a_gpu_raises() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(BackendUnavailable, match="no CUDA device"):
        require("torch-eager", device="cuda")


def test_unknown_runtime_is_a_config_error_listing_the_choices() -> None:
    with pytest.raises(ConfigError, match="ort-cpu"):
        require("onnx-magic")


def test_every_backend_says_what_it_runs_where_and_builds_lazily() -> None:
    import subprocess
    import sys

    for name in BACKENDS:
        entry = backend(name)
        assert entry.runs in ("onnx", "module") and entry.device in ("cpu", "cuda")
        module, _, factory = entry.factory.partition(":")
        assert module.startswith("recalib.deploy.backends.") and factory
    # The table names its factories: the runner module and the table import no backend (no import circle).
    probe = "import recalib.deploy.runner, sys; print(sorted(m for m in sys.modules if m.startswith('recalib.deploy.backends.')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def test_a_runtime_put_on_a_device_it_cannot_use_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot run on 'cuda'"):
        require("ort-cpu", "cuda")
    with pytest.raises(ConfigError, match="unknown runtime"):
        create_runner("onnx-magic", "m.onnx")


def test_a_precision_a_runtime_does_not_compute_in_is_refused_naming_where_it_runs() -> None:
    from recalib.deploy.availability import check_precision

    check_precision("torch-eager", "fp16")
    with pytest.raises(ConfigError, match="torch-eager computes in fp32, fp16, not 'bf16'; bf16 runs on openvino-cpu"):
        check_precision("torch-eager", "bf16")
