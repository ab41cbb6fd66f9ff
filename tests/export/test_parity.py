"""The one parity definition: against float64 PyTorch, with float32 PyTorch's own error as the yardstick."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from recalib import export
from recalib.export.options import ExportOptions
from recalib.export.parity import INT8_TOLERANCE, PYTORCH_MARGIN, Reference, Truth, at_precision, judge, require
from recalib.errors import ConfigError, VerificationError


class Cancelling(nn.Module):
    """``(x + 1e4) - 1e4``: exact in float64, off by float32 rounding of 1e4 (about 5e-4) in float32."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("offset", torch.tensor(1e4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + self.offset) - self.offset


def _ref(pytorch_error: float | None) -> Reference:
    truth = np.array([[1.0, -2.0, 4.0]])
    return Reference(np.zeros((1, 3), np.float32), [truth], pytorch_error,
                     "float64" if pytorch_error is not None else "float32")


def test_a_runtime_passes_within_the_tolerance_or_as_close_as_float32_pytorch_is() -> None:
    truth = np.array([[1.0, -2.0, 4.0]])
    assert judge(_ref(1e-7), [truth + 3e-4], runtime="r", label="m").error == pytest.approx(3e-4 / 4)
    assert judge(_ref(1e-7), [truth + 3e-4], runtime="r", label="m").passed  # 7.5e-5 <= tolerance 1e-4
    assert not judge(_ref(1e-7), [truth + 8e-4], runtime="r", label="m").passed
    near_pytorch = judge(_ref(1.5e-4), [truth + 8e-4], runtime="r", label="m")
    assert near_pytorch.passed and near_pytorch.bound == pytest.approx(PYTORCH_MARGIN * 1.5e-4)
    assert not judge(_ref(None), [truth + 8e-4], runtime="r", label="m").passed


def test_nan_and_wrong_shapes_never_pass() -> None:
    truth = np.array([[1.0, -2.0, 4.0]])
    assert not judge(_ref(1e-7), [truth * np.nan], runtime="r", label="m").passed
    with pytest.raises(VerificationError, match="output shapes"):
        judge(_ref(1e-7), [truth[:, :2]], runtime="r", label="m")


def test_a_failure_says_the_runtime_is_further_from_float64_than_pytorch() -> None:
    check = judge(_ref(1e-6), [np.array([[1.1, -2.0, 4.0]])], runtime="ort-cpu", label="se.onnx")
    with pytest.raises(VerificationError) as info:
        require(check, "it was not timed")
    message = str(info.value)
    assert "se.onnx on ort-cpu: 2.5e-02 from PyTorch float64" in message and "it was not timed" in message
    assert "further from the float64 truth than float32 PyTorch is (2.5e-02 vs 1.0e-06)" in message


def test_the_reference_measures_pytorch_float32_against_float64() -> None:
    x = np.random.default_rng(0).standard_normal((2, 8), dtype=np.float32)
    ref = Truth(Cancelling()).reference(x)
    assert ref.reference_dtype == "float64"
    np.testing.assert_array_equal(ref.truth[0], x.astype(np.float64))  # exact in float64
    assert 1e-4 < ref.pytorch_error < 1e-3  # float32 loses about 5e-4 of every value near 1e4


def test_an_ill_conditioned_model_exports_because_the_runtime_is_as_close_as_pytorch(tmp_path) -> None:
    """Its float32 error exceeds the tolerance in PyTorch itself; onnxruntime is judged by that yardstick."""
    report = export.to_onnx(Cancelling(), (4, 3, 3), tmp_path / "m.onnx", ExportOptions(fold=False, optimize=False))
    for check in report.parity:
        assert check.pytorch_error > check.tolerance == 1e-4
        assert check.passed and check.error > check.tolerance


def test_tolerances_must_be_finite_and_non_negative(tmp_path) -> None:
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="finite number >= 0"):
            export.to_onnx(Cancelling(), (4, 3, 3), tmp_path / "m.onnx", ExportOptions(tolerance=bad))
    assert list(tmp_path.iterdir()) == []


def test_the_reference_leaves_the_models_mode_as_it_was() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4)).train()
    Truth(model).reference(np.ones((2, 4), np.float32))
    assert model.training and all(m.training for m in model.modules())


def test_a_model_whose_own_output_is_nan_is_not_blamed_on_rounding() -> None:
    model = nn.Linear(4, 2)
    with torch.no_grad():
        model.weight[0, 0] = float("nan")
    with pytest.raises(VerificationError, match="own output holds NaN or infinite values.*nothing to verify"):
        Truth(model).reference(np.ones((1, 4), np.float32))


def test_an_infinite_yardstick_lets_nothing_through() -> None:
    """float32 PyTorch overflowing must not make every runtime pass."""
    truth = np.array([[1.0, -2.0, 4.0]])
    check = judge(_ref(float("inf")), [truth + 1.0], runtime="r", label="m")
    assert not check.passed and check.bound == check.tolerance


def test_a_reduced_precision_runtime_is_held_to_pytorch_in_that_precision() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3)).eval()
    float32 = Truth(model).reference(np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32))
    bf16 = at_precision(float32, model, "bf16")
    assert bf16.precision == "bf16" and bf16.truth is float32.truth
    assert bf16.pytorch_error > 50 * float32.pytorch_error  # 8 mantissa bits against 24
    rounded = [np.asarray(t, np.float32) * (1 + 1.5 * bf16.pytorch_error) for t in bf16.truth]
    check = judge(bf16, rounded, runtime="openvino-cpu", label="m")
    assert check.passed and "PyTorch bfloat16" in check.describe()
    assert not judge(float32, rounded, runtime="ort-cpu", label="m").passed
    assert at_precision(float32, model, "fp32") is float32
    with pytest.raises(ConfigError, match="not one of fp32, bf16, fp16, int8"):
        at_precision(float32, model, "int4")


def test_int8_is_held_to_the_stated_bound_whatever_the_tolerance() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 4, 3)).eval()
    float32 = Truth(model).reference(np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32))
    int8 = at_precision(float32, model, "int8")
    scale = max(float(np.abs(t).max()) for t in int8.truth)
    near = [t + 0.9 * INT8_TOLERANCE * scale for t in int8.truth]
    far = [t + 1.1 * INT8_TOLERANCE * scale for t in int8.truth]
    assert judge(int8, near, runtime="ort-cpu", label="m", tolerance=1e-6).passed
    check = judge(int8, far, runtime="ort-cpu", label="m", tolerance=1e-6)
    assert not check.passed and "parity.INT8_TOLERANCE" in check.describe()
    assert not judge(float32, near, runtime="ort-cpu", label="m").passed


def test_one_float64_twin_serves_every_input_of_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    copied = []
    deepcopy = copy.deepcopy

    def counting(value: object, memo: dict | None = None) -> object:
        if memo is None:
            copied.append(type(value).__name__)
        return deepcopy(value, memo)

    monkeypatch.setattr(copy, "deepcopy", counting)
    truth = Truth(Cancelling())
    for batch in (1, 3):
        assert truth.reference(np.ones((batch, 4), np.float32)).reference_dtype == "float64"
    assert copied == ["Cancelling"]
