"""The parts of the TensorRT backend that need neither TensorRT nor a GPU.

Engine-file format and compatibility check, the TensorRT 10/11 precision decision, and the
refusal to build without TensorRT. Building and running engines is not tested here: no GPU.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from recalib.deploy.availability import unavailable_reason
from recalib.deploy.backends.tensorrt._compat import PrecisionPlan, plan_precision
from recalib.deploy.backends.tensorrt.engine_file import (MAGIC, EngineFileError, EngineMeta, Platform, check_compatible,
                                                          data_sha256, engine_cache_path, file_sha256, load, pack,
                                                          save, unpack)
from recalib.deploy.backends.tensorrt.qdq import asymmetric_qdq_nodes, check_qdq_form
from recalib.errors import BackendUnavailable, CheckpointError, ConfigError

H100 = Platform("10.13.0.35", "NVIDIA H100 80GB HBM3", "9.0")


def _meta(platform: Platform = H100) -> EngineMeta:
    return EngineMeta(platform=platform, precision="fp16", input_name="input", input_dtype="float32",
                      min_shape=(1, 3, 224, 224), opt_shape=(8, 3, 224, 224), max_shape=(8, 3, 224, 224),
                      onnx_sha256="ab" * 32)


def test_engine_file_round_trips_header_and_plan(tmp_path: Path) -> None:
    plan = bytes(range(256)) * 3
    path = save(tmp_path / "m.engine", _meta(), plan)
    meta, loaded = load(path, H100)
    assert (meta, loaded) == (_meta(), plan)


def test_profile_bounds_decide_which_shapes_an_engine_accepts() -> None:
    meta = _meta()
    assert meta.accepts((1, 3, 224, 224)) and meta.accepts((8, 3, 224, 224))
    assert not meta.accepts((9, 3, 224, 224)) and not meta.accepts((1, 3, 192, 224))
    assert not meta.accepts((1, 3, 224))


def test_engine_from_another_tensorrt_version_is_refused_with_both_versions_named() -> None:
    other = replace(H100, tensorrt_version="10.3.0.26")
    with pytest.raises(EngineFileError, match=r"10\.3\.0\.26.*10\.13\.0\.35.*Rebuild") as info:
        check_compatible(_meta(other), H100, "m.engine")
    assert isinstance(info.value, CheckpointError)


def test_engine_from_another_gpu_is_refused() -> None:
    a100 = Platform("10.13.0.35", "NVIDIA A100-SXM4-80GB", "8.0")
    with pytest.raises(EngineFileError, match="A100.*H100.*one GPU model"):
        check_compatible(_meta(a100), H100)


def test_a_foreign_or_damaged_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(EngineFileError, match="not an engine written by recalib"):
        unpack(b"\x00plain TensorRT plan bytes")
    data = pack(_meta(), b"plan")
    with pytest.raises(EngineFileError, match="damaged header"):
        unpack(data[:20] + b"{" + data[21:])
    with pytest.raises(EngineFileError, match="no engine plan"):
        unpack(pack(_meta(), b""))
    with pytest.raises(EngineFileError, match="does not exist"):
        load(tmp_path / "missing.engine", H100)


def test_engine_cache_name_separates_model_precision_batches_and_platform(tmp_path: Path) -> None:
    onnx = tmp_path / "resnet50-se.onnx"
    a = engine_cache_path(tmp_path, onnx, H100, "fp16", (1, 8, 8))
    b = engine_cache_path(tmp_path, onnx, replace(H100, gpu_name="NVIDIA L4"), "fp16", (1, 8, 8))
    assert a.name == "resnet50-se-fp16-b1-8-8-trt10.13.0.35-NVIDIA-H100-80GB-HBM3.engine"
    assert a != b


def test_an_engine_calibrated_on_other_images_has_another_cache_name_and_header(tmp_path: Path) -> None:
    onnx_path = tmp_path / "r20.onnx"
    images = np.random.default_rng(0).standard_normal((32, 1, 8, 8)).astype(np.float32)
    other = images.copy()
    other[5, 0, 3, 3] += 1e-3
    name = {key: engine_cache_path(tmp_path, onnx_path, H100, "int8", (1, 8, 8), data_sha256(data)).name
            for key, data in (("same", images), ("again", images.copy()), ("other", other))}
    assert name["same"] == name["again"] != name["other"]
    assert name["same"].startswith(f"r20-int8-cal{data_sha256(images)[:16]}-b1-8-8-")
    assert engine_cache_path(tmp_path, onnx_path, H100, "int8", (1, 8, 8)).name.startswith("r20-int8-b1-8-8-")
    assert data_sha256(images) != data_sha256(images.reshape(32, 1, 4, 16))  # same bytes, other images
    calibrated = replace(_meta(), precision="int8", calibration_sha256=data_sha256(images))
    assert load(save(tmp_path / "c.engine", calibrated, b"plan"), H100)[0].calibration_sha256 == data_sha256(images)


def test_a_header_written_before_calibration_hashes_reads_as_not_calibrated() -> None:
    header = json.loads(_meta().to_json())
    del header["calibration_sha256"]
    raw = json.dumps(header).encode()
    assert unpack(MAGIC + len(raw).to_bytes(4, "little") + raw + b"plan")[0] == _meta()


def _qdq_graph(zero_point: np.ndarray) -> onnx.ModelProto:
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q0"),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq0")]
    inits = [numpy_helper.from_array(np.array(0.1, np.float32), "s"), numpy_helper.from_array(zero_point, "z")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], inits)
    return helper.make_model(graph)


def test_tensorrt_reads_symmetric_int8_qdq_pairs_only(tmp_path: Path) -> None:
    assert asymmetric_qdq_nodes(_qdq_graph(np.array(0, np.int8))) == []
    assert asymmetric_qdq_nodes(_qdq_graph(np.array(3, np.int8))) == ["QuantizeLinear:q0 (int8 zero point 3)",
                                                                      "DequantizeLinear:dq0 (int8 zero point 3)"]
    path = tmp_path / "m.int8.onnx"
    onnx.save(_qdq_graph(np.array(128, np.uint8)), str(path))
    with pytest.raises(ConfigError, match=r"m\.int8\.onnx is a QDQ graph TensorRT cannot read.*2 Q/DQ nodes.*"
                                          r"QuantizeLinear:q0 \(uint8 zero point 128\).*float32 \.onnx with "
                                          r"calibration images"):
        check_qdq_form(path)


def test_file_hash_ties_an_engine_to_its_onnx_bytes(tmp_path: Path) -> None:
    path = tmp_path / "x.onnx"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize("version, precision, model_dtype, expected", [
    ("10.13.0.35", "fp32", "float32", PrecisionPlan(strongly_typed=True, fp16_flag=False)),
    ("10.13.0.35", "fp16", "float32", PrecisionPlan(strongly_typed=False, fp16_flag=True)),
    ("10.0.1", "fp16", "float16", PrecisionPlan(strongly_typed=True, fp16_flag=False)),
    ("11.0.0", "fp32", "float32", PrecisionPlan(strongly_typed=True, fp16_flag=False)),
    ("11.4.1", "fp16", "float16", PrecisionPlan(strongly_typed=True, fp16_flag=False)),
])
def test_precision_plan_per_tensorrt_version(version: str, precision: str, model_dtype: str,
                                             expected: PrecisionPlan) -> None:
    assert plan_precision(version, precision, model_dtype) == expected


def test_tensorrt_11_fp16_from_an_fp32_model_asks_for_an_fp16_onnx_model() -> None:
    with pytest.raises(ConfigError, match="strongly typed.*FP16 ONNX model"):
        plan_precision("11.0.0", "fp16", "float32")


@pytest.mark.parametrize("version, quantized, expected", [
    ("10.13.0", True, PrecisionPlan(strongly_typed=False, fp16_flag=False, int8_flag=True)),
    ("10.13.0", False, PrecisionPlan(strongly_typed=False, fp16_flag=False, int8_flag=True, calibrated=True)),
    ("11.0.0", True, PrecisionPlan(strongly_typed=True, fp16_flag=False)),
])
def test_int8_takes_a_qdq_graph_or_tensorrt_10s_calibrator(version: str, quantized: bool,
                                                          expected: PrecisionPlan) -> None:
    assert plan_precision(version, "int8", "float32", quantized) == expected


def test_tensorrt_11_has_no_calibrator_so_int8_needs_the_qdq_graph() -> None:
    with pytest.raises(ConfigError, match="has no calibrator, so int8 needs a QDQ graph"):
        plan_precision("11.0.0", "int8", "float32", quantized=False)


def test_inconsistent_or_unknown_precisions_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="float16 but precision='fp32'"):
        plan_precision("10.13.0", "fp32", "float16")
    with pytest.raises(ConfigError, match="int4"):
        plan_precision("10.13.0", "int4", "float32")
    with pytest.raises(ConfigError, match="int8 engines are built from a float32 graph"):
        plan_precision("10.13.0", "int8", "float16")
    with pytest.raises(ConfigError, match="float64"):
        plan_precision("10.13.0", "fp32", "float64")


def test_unsupported_tensorrt_versions_are_unavailable() -> None:
    with pytest.raises(BackendUnavailable, match="TensorRT 8.6.1 is installed"):
        plan_precision("8.6.1", "fp32", "float32")


def test_building_without_tensorrt_raises_backend_unavailable(tmp_path: Path) -> None:
    if unavailable_reason("tensorrt", "cuda") is None:
        pytest.skip("TensorRT and a GPU are present")
    from recalib.deploy.backends.tensorrt import create_tensorrt_runner

    with pytest.raises(BackendUnavailable, match=r'\.\[tensorrt\]'):
        create_tensorrt_runner(tmp_path / "model.onnx")
