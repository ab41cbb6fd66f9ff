"""Exports name the runtime they are optimised for, and the OpenVINO forms fuse where OpenVINO fuses.

Structural assertions (ONNX ops, OpenVINO's executed graph), never timings.
"""
from __future__ import annotations

import pytest
from torch import nn

from recalib import export
from recalib.export.options import ExportOptions
from recalib.export.optimize import DEFAULT_TARGET, TARGETS, check_target, optimize_model, target_for_runtime
from recalib.export.rewrites.contextual import ContextualConvInference
from recalib.blocks import create_block
from recalib.errors import ConfigError

from export_helpers import Host, ops, randomize


def test_optimize_true_means_the_default_target_and_false_means_none():
    assert check_target(True) == DEFAULT_TARGET == "onnxruntime" and check_target(False) is None
    assert [check_target(t) for t in TARGETS] == list(TARGETS)
    with pytest.raises(ConfigError, match="onnxruntime, openvino"):
        check_target("tensorrt")


def test_optimize_model_builds_the_targets_form_and_nothing_when_off():
    for target in TARGETS:
        form = optimize_model(create_block("cc-reduced", 8, feat_size=(7, 7)), target).model
        assert isinstance(form, ContextualConvInference) and form.target == target
    block = create_block("cc-reduced", 8, feat_size=(7, 7))
    assert optimize_model(block, False).model is block
    with pytest.raises(ConfigError, match="names no export target"):
        optimize_model(block, "tvm")


def test_every_target_form_is_built_from_one_model_that_stays_as_it_was():
    """One folded model serves each target's export: rewrites copy the path to a block, share the rest."""
    block = create_block("cc-reduced", 8, feat_size=(7, 7))
    stem, tail = nn.Conv2d(3, 8, 1), nn.ReLU()
    model = nn.Sequential(stem, nn.Sequential(block, tail))
    forms = {target: optimize_model(model, target) for target in TARGETS}
    assert model[1][0] is block and model[1][1] is tail  # the model itself is unchanged
    for target, result in forms.items():
        assert result.actions[0].startswith("1.0: cc-grid-picks")
        assert isinstance(result.model[1][0], ContextualConvInference) and result.model[1][0].target == target
        assert result.model[0] is stem and result.model[1][1] is tail and result.model[1][0].block is block


def test_each_runtime_gets_the_target_that_suits_it():
    assert target_for_runtime("openvino-cpu") == "openvino"
    assert {target_for_runtime(r) for r in ("ort-cpu", "ort-cuda", "ort-tensorrt", "tensorrt")} == {"onnxruntime"}


def test_an_unknown_target_is_refused_before_any_file_is_written(tmp_path):
    with pytest.raises(ConfigError, match="names no export target"):
        export.to_onnx(Host("se", size=(8, 8)), (3, 8, 8), tmp_path / "m.onnx", ExportOptions(optimize="tensorrt"))
    assert list(tmp_path.iterdir()) == []


def test_openvino_cc_form_multiplies_x_by_each_profile_in_one_fused_pass(tmp_path):
    pytest.importorskip("openvino")
    from recalib.deploy.backends.openvino_graph import executed_graph

    path = tmp_path / "ov.onnx"
    report = export.to_onnx(randomize(Host("cc-reduced", size=(8, 8))), (3, 8, 8), path,
                            ExportOptions(optimize="openvino"))
    assert report.target == "openvino" and "optimized for openvino (1 rewrites" in report.summary()
    assert report.max_rel_error < 1e-5 and "MatMul" not in ops(path)
    graph = executed_graph(path, (2, 3, 8, 8), threads=1, runs=1)
    # x * along_h * along_w + identity: one channels-last layer, the map never written
    assert any(layer.layer_type == "Eltwise" and layer.layout == "acdb" and layer.fused.count("Multiply") >= 2
               and "Add" in layer.fused for layer in graph.executed)
    assert not {"MatMul", "Gather", "FullyConnected"} & set(graph.count_by_type())
    assert graph.reorders() == 2  # the input's and the output's, none around the block


def test_openvino_ms_sar_form_scales_by_a_mul_fused_with_the_product_and_residual(tmp_path):
    pytest.importorskip("openvino")
    from recalib.deploy.backends.openvino_graph import executed_graph

    path = tmp_path / "ov.onnx"
    report = export.to_onnx(randomize(Host("ms-sar", size=(8, 8))), (3, 8, 8), path,
                            ExportOptions(optimize="openvino"))
    assert report.max_rel_error < 1e-5
    assert ops(path)[-3:] == ["Mul", "Mul", "Add"]  # x * gates, * 1/L, + identity: no depthwise 1x1 conv
    graph = executed_graph(path, (2, 3, 8, 8), threads=1, runs=1)
    assert any(layer.layer_type == "Eltwise" and layer.fused[:2] == ("Multiply", "Add") for layer in graph.executed)
