"""int8 export: calibration images checked before any work, the QDQ graph verified on its own bounds, and
each gate's nodes reported quantised or in float (and kept in float when asked), every other node in int8."""
from __future__ import annotations

import numpy as np
import onnx
import pytest

from export_helpers import Host, randomize
from recalib.deploy.backends.tensorrt.qdq import asymmetric_qdq_nodes, check_qdq_form
from recalib.errors import ConfigError, DataError
from recalib.export.agreement import AgreementCheck, require_decisions
from recalib.export.onnx_export import to_onnx
from recalib.export.options import ExportOptions, Quantization
from recalib.export.parity import INT8_TOLERANCE
from recalib.export.quantize.calibration import (MAX_SAMPLES, MIN_SAMPLES, batches, check_histogram_memory,
                                                 load_calibration)
from recalib.export.quantize.placement import is_quantized
from recalib.errors import VerificationError

CHW = (3, 13, 13)


def npz(tmp_path, **arrays) -> str:
    path = tmp_path / "calibration.npz"
    np.savez(path, **arrays)
    return str(path)


def test_digits_calibrate_on_the_training_split_at_most_max_samples() -> None:
    calibration = load_calibration("digits", (1, 28, 28))
    assert calibration.inputs.shape == (MAX_SAMPLES, 1, 28, 28) and calibration.inputs.dtype == np.float32
    assert "train split" in calibration.name and calibration.warning is None


def test_random_calibration_is_named_and_warned_about() -> None:
    calibration = load_calibration("random", CHW, seed=3)
    assert calibration.random and "random inputs" in calibration.warning
    assert np.array_equal(calibration.inputs, load_calibration("random", CHW, seed=3).inputs)


def test_an_npz_of_inputs_alone_calibrates(tmp_path) -> None:
    inputs = np.random.default_rng(0).standard_normal((MIN_SAMPLES, *CHW))
    calibration = load_calibration(npz(tmp_path, inputs=inputs), CHW)
    assert np.allclose(calibration.inputs, inputs) and calibration.warning is None


@pytest.mark.parametrize("inputs, message", [
    (np.zeros((MIN_SAMPLES - 1, *CHW)), f"{MIN_SAMPLES - 1} images are too few"),
    (np.zeros((MIN_SAMPLES, 1, 13, 13)), "have 1 channels, but the model takes 3"),
    (np.zeros((MIN_SAMPLES, 3, 12, 12)), "are 12x12, but the model takes 13x13"),
    (np.zeros((MIN_SAMPLES, 13, 13)), "must be \\(N, C, H, W\\)"),
    (np.full((MIN_SAMPLES, *CHW), np.nan), "hold NaN"),
    (np.full((MIN_SAMPLES, *CHW), "x"), "not numbers"),
])
def test_bad_calibration_images_are_refused(tmp_path, inputs, message) -> None:
    with pytest.raises(DataError, match=message):
        load_calibration(npz(tmp_path, inputs=inputs), CHW)


def test_a_fixed_batch_calibrates_on_whole_batches_only() -> None:
    calibration = load_calibration("random", CHW)
    sizes = [len(part) for part in batches(calibration, 5)]
    assert set(sizes) == {5} and len(sizes) == MAX_SAMPLES // 5


def test_int8_needs_calibration_and_calibration_needs_int8() -> None:
    with pytest.raises(ConfigError, match="needs calibration images"):
        ExportOptions(precision="int8")
    with pytest.raises(ConfigError, match="not fp32"):
        ExportOptions(quantization=Quantization(load_calibration("random", CHW)))
    with pytest.raises(ConfigError, match="not one of fp32, bf16, fp16, int8"):
        ExportOptions(precision="int4")


@pytest.mark.parametrize("gates_in_float", [False, True])
def test_an_int8_export_is_a_verified_qdq_graph_with_each_gate_placed(tmp_path, gates_in_float) -> None:
    options = ExportOptions(precision="int8", quantization=Quantization(load_calibration("random", CHW), gates_in_float))
    report = to_onnx(randomize(Host("se")), CHW, tmp_path / "se.onnx", options)
    assert is_quantized(onnx.load(str(tmp_path / "se.onnx")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["se.onnx", "se.report.json"]
    float_checks = [p for p in report.parity if p.precision == "fp32"]
    int8_checks = [p for p in report.parity if p.precision == "int8"]
    assert len(float_checks) == len(int8_checks) == 2 and all(p.bound == INT8_TOLERANCE for p in int8_checks)
    assert all(0 < p.error < INT8_TOLERANCE for p in int8_checks) and all(p.error < 1e-4 for p in float_checks)
    [gate] = report.quantization["gates"]
    assert gate["gate"] == "block" and "warning" in report.quantization
    placed_in, other = ("float", "int8") if gates_in_float else ("int8", "float")
    assert {n.split(":")[0] for n in gate[placed_in]} >= {"Sigmoid", "Mul"} and gate[other] == []
    # graph-wide, the gate is all the recipe leaves in float: the convolutions and the residual Add are int8
    assert sorted(report.quantization["float_nodes"]) == sorted(gate["float"])
    op_types = [n.op_type for n in onnx.load(str(tmp_path / "se.onnx")).graph.node]
    assert "Add" in op_types and op_types.count("Conv") == 4
    assert op_types.count("Relu") == gates_in_float  # the stem's ReLU is absorbed by its uint8 range


def _agreement(agreed: int, pytorch_correct: int, runtime_correct: int, precision: str = "int8") -> AgreementCheck:
    return AgreementCheck("ort-cpu", "digits", 1000, agreed, pytorch_correct, runtime_correct, 0.1, 0.01, (), precision)


def test_int8_decisions_must_agree_99_percent_and_lose_at_most_one_point() -> None:
    assert require_decisions(_agreement(990, 950, 940), "x").agreed == 990
    with pytest.raises(VerificationError, match="top-1 agreement 98.90%"):
        require_decisions(_agreement(989, 950, 950), "nothing was written")
    with pytest.raises(VerificationError, match=r"accuracy \+1.10 points below"):
        require_decisions(_agreement(995, 950, 939), "nothing was written")
    assert require_decisions(_agreement(900, 950, 800, "fp32"), "x").agreed == 900  # floats: parity judges


def test_recalibs_own_int8_export_is_refused_for_tensorrt_and_its_float_export_is_not(tmp_path: Path) -> None:
    options = ExportOptions(precision="int8", quantization=Quantization(load_calibration("random", CHW)),
                            write_report=False)
    to_onnx(randomize(Host("se")), CHW, tmp_path / "se.onnx", options)
    found = asymmetric_qdq_nodes(onnx.load(str(tmp_path / "se.onnx")))
    assert found and all("uint8 zero point" in f for f in found)
    with pytest.raises(ConfigError, match="se.onnx is a QDQ graph TensorRT cannot read"):
        check_qdq_form(tmp_path / "se.onnx")
    to_onnx(randomize(Host("se")), CHW, tmp_path / "float.onnx", ExportOptions(write_report=False))
    check_qdq_form(tmp_path / "float.onnx")


def test_an_unknown_calibration_method_is_refused_when_the_recipe_is_made() -> None:
    with pytest.raises(ConfigError, match="calibration method 'entropy' is not one of minmax, percentile"):
        Quantization(load_calibration("random", CHW), method="entropy")


def test_a_histogram_calibration_that_would_not_fit_in_memory_is_refused_before_quantising(tmp_path, monkeypatch) -> None:
    import recalib.infra.memory as memory

    to_onnx(randomize(Host("se")), CHW, tmp_path / "float.onnx", ExportOptions(write_report=False))
    graph, calibration = onnx.load(str(tmp_path / "float.onnx")), load_calibration("random", CHW)
    assert len(graph.graph.value_info) > 0  # the exported graph is shape-inferred: the estimate has sizes to add
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 20)
    check_histogram_memory(graph, calibration, "minmax")  # keeps extremes only: never refused
    with pytest.raises(ConfigError, match=r"percentile calibration on 256 random .* holds every activation of every "
                                          r"image, .* MiB, but 1\.0 MiB is available here; use --calibration-method "
                                          r"minmax"):
        check_histogram_memory(graph, calibration, "percentile")
    monkeypatch.setattr(memory, "available_memory", lambda: 1 << 40)
    check_histogram_memory(graph, calibration, "percentile")
