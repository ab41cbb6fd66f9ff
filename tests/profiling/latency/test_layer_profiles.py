"""Per-layer profiles of CIFAR ResNet-20 + SE on onnxruntime, OpenVINO and torch eager, billed to modules and gates."""
from __future__ import annotations

from pathlib import Path

import pytest

from recalib.errors import ConfigError
from recalib.export.prepared import Prepared
from recalib.profiling.latency.layer_runtimes import PROFILED_RUNTIMES, profile_layers, why_not_profiled
from recalib.profiling.latency.layers import LayerProfile

SE_GATES = 9  # cifar_resnet20: three stages of three basic blocks, one SE gate each


@pytest.fixture(scope="module")
def se_model(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    """cifar_resnet20+se at 16x16, exported once (for onnxruntime; OpenVINO reads the same file)."""
    from recalib.export.export_all import export_all
    from recalib.export.prepare import build
    from recalib.spec import parse_spec

    model = build(parse_spec("cifar_resnet20+se").with_input_size((16, 16)))
    return export_all([model], Path(tmp_path_factory.mktemp("se")), runtimes=["ort-cpu"])[0]


def _profile(model: Prepared, runtime: str) -> LayerProfile:
    if runtime == "openvino-cpu":
        pytest.importorskip("openvino")
    return profile_layers(model, runtime, batch=1, threads=1, runs=2)


@pytest.mark.parametrize("runtime", PROFILED_RUNTIMES)
def test_the_se_gates_layers_are_billed_to_their_modules_and_take_a_share_of_the_time(
        se_model: Prepared, runtime: str) -> None:
    profile = _profile(se_model, runtime)
    gated = [layer for layer in profile.layers if layer.gate is not None]
    assert len({layer.gate for layer in gated}) == SE_GATES
    assert all(layer.gate.endswith(".recal") and (layer.module or "").startswith(layer.gate) for layer in gated)
    assert 0 < profile.gate_share < 1 and profile.gate_ms == pytest.approx(sum(layer.ms for layer in gated))
    assert all(layer.ms >= 0 for layer in profile.layers) and profile.runs == 2
    convs = [layer for layer in profile.layers if layer.module == "layer1.0.conv1"]
    assert convs and all(layer.gate is None for layer in convs)  # the main path is no gate's


def test_onnxruntime_bills_a_fused_node_to_its_kernels_op_though_named_after_its_last(se_model: Prepared) -> None:
    profile = _profile(se_model, "ort-cpu")
    [conv] = [layer for layer in profile.layers if layer.module == "layer1.0.conv1"]
    assert conv.op == "Conv" and "relu" in conv.node and len(conv.fused) == 1 and "relu" in conv.fused[0]
    reorders = [layer for layer in profile.layers if layer.op == "layout reorder"]
    assert reorders and all(layer.module is None and layer.gate is None for layer in reorders)


def test_openvino_bills_a_fused_layer_to_its_own_node_and_lists_what_it_absorbed(se_model: Prepared) -> None:
    profile = _profile(se_model, "openvino-cpu")
    muls = [layer for layer in profile.layers if layer.gate is not None and layer.op == "Mul"]
    assert len(muls) == SE_GATES
    # the gate's multiply absorbed the residual Add and the block's ReLU: billed to the gate, listed as fused
    assert all(any("add" in name for name in layer.fused) for layer in muls)
    row = next(row for row in profile.rows() if row["node"] == muls[0].node)
    assert list(row) == ["node", "op", "module", "gate", "fused", "ms"] and row["fused"] == "+".join(muls[0].fused)


def test_torch_eager_rows_name_the_module_and_op_and_the_sigmoid_is_the_gates(se_model: Prepared) -> None:
    profile = _profile(se_model, "torch-eager")
    sigmoids = [layer for layer in profile.layers if layer.op == "aten::sigmoid"]
    assert len(sigmoids) == SE_GATES and all(layer.gate == layer.module for layer in sigmoids)
    assert all(layer.node == f"{layer.module or '(root)'}/{layer.op}" for layer in profile.layers)
    assert "layer1.0.recal.mlp.reduce" in profile.by_module()


def test_runtimes_without_a_layer_profile_say_why(se_model: Prepared) -> None:
    assert "Inductor" in (why_not_profiled("torch-compile") or "")
    assert "trtexec --dumpProfile" in (why_not_profiled("tensorrt") or "")
    assert why_not_profiled("torch-eager", "fp16") == "torch-eager is profiled in fp32 only"
    with pytest.raises(ConfigError, match="cifar_resnet20\\+se on tensorrt cannot be profiled"):
        profile_layers(se_model, "tensorrt", batch=1, threads=1)
