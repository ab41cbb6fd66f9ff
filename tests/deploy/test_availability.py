"""Which backends run here, and the errors (with install hints) for those that cannot."""
from __future__ import annotations

import json

import pytest

from deploy.availability import BACKENDS, HINTS, backend_matrix, require, tensorrt_module, unavailable_reason
from recalib.cli.main import main
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


def test_cpu_backends_are_available_here() -> None:
    require("torch-eager")
    require("ort-cpu")


@pytest.mark.parametrize("backend", ["ort-cuda", "ort-tensorrt"])
def test_gpu_onnxruntime_providers_raise_with_the_gpu_extra_hint(backend: str) -> None:
    _skip_if_available(backend)
    with pytest.raises(BackendUnavailable) as info:
        require(backend)
    assert info.value.backend == backend and info.value.exit_code == 3
    assert '.[gpu' in info.value.hint and "conflict" in HINTS["ort-cuda"]
    assert "pip uninstall -y onnxruntime" in str(info.value)


def test_tensorrt_raises_with_the_tensorrt_extra_hint() -> None:
    _skip_if_available("tensorrt")
    with pytest.raises(BackendUnavailable) as info:
        require("tensorrt")
    assert '.[tensorrt]' in info.value.hint and "NVIDIA GPU" in info.value.hint


def test_tensorrt_stubs_alone_are_not_mistaken_for_tensorrt() -> None:
    """tensorrt-stubs makes ``import tensorrt`` succeed as an empty namespace package."""
    module = tensorrt_module()
    assert module is None or hasattr(module, "Builder")


def test_torch_on_cuda_without_a_gpu_raises() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    with pytest.raises(BackendUnavailable, match="no CUDA device"):
        require("torch-eager", device="cuda")


def test_unknown_runtime_is_a_config_error_listing_the_choices() -> None:
    with pytest.raises(ConfigError, match="ort-cpu"):
        require("onnx-magic")


def test_doctor_shows_the_backend_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in report["backends"]] == list(BACKENDS)
