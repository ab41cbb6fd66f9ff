"""``to_onnx`` with ``ExportOptions(optimize=True)``: exact rewrites that keep blocks in onnxruntime's NCHWc layout.

Structural assertions only (graph ops and onnxruntime's optimised graph), never timings.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from recalib import export
from recalib.export.options import ExportOptions
from recalib.export.rewrites.integer_resize import integer_scale
from export_helpers import Host, ort_ops, randomize, reorders
from recalib.cli.main import main
from recalib.models import create_model


def _export(model, shape, path: Path, **kw) -> export.ExportReport:
    return export.to_onnx(model, shape, path, ExportOptions(**kw))


def _initializer(model: onnx.ModelProto, name: str) -> np.ndarray | None:
    """A constant's value, from an initializer or a Constant node."""
    for tensor in model.graph.initializer:
        if tensor.name == name:
            return onnx.numpy_helper.to_array(tensor)
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output[0] == name:
            return onnx.numpy_helper.to_array(node.attribute[0].t)
    return None


def test_integer_scale_only_where_onnx_picks_pytorch_pixels():
    assert [integer_scale(n, m) for n, m in ((1, 56), (7, 56), (4, 28), (3, 3))] == [56, 8, 7, 1]
    assert integer_scale(4, 14) is None and integer_scale(2, 7) is None and integer_scale(8, 4) is None


def test_se_squeezes_by_global_pooling_and_broadcasts_its_gate(host, tmp_path):
    path = tmp_path / "se.onnx"
    report = _export(host("se", size=(16, 16)), (3, 16, 16), path)
    model = onnx.load(str(path))
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["GlobalAveragePool"] == 1 and "ReduceMean" not in ops
    # a (N, C, 1, 1) gate stays a broadcasting Mul: expanding it measured slower (export/rewrites/layout.py)
    assert "Resize" not in ops
    shapes = {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in model.graph.value_info}
    (mul,) = [n for n in model.graph.node if n.op_type == "Mul"]
    assert sorted(shapes[name] for name in mul.input) == [["batch", 32, 1, 1], ["batch", 32, 16, 16]]
    assert report.optimized and report.target == "onnxruntime" and report.rewrites == [
        "global-average-pool x1: spatial mean over (H, W) exported as GlobalAveragePool (was ReduceMean)"]
    assert report.max_rel_error < 1e-5


def test_no_optimize_keeps_the_plain_graph(host, tmp_path):
    report = _export(host("se", size=(16, 16)), (3, 16, 16), tmp_path / "se.onnx", optimize=False)
    assert "ReduceMean" in report.op_histogram and "Resize" not in report.op_histogram
    assert not report.optimized and report.target is None and report.rewrites == []
    assert "optimization: off" in report.summary()


@pytest.mark.parametrize("size,scales", [((16, 16), True), ((13, 13), False)])
def test_ge_gate_uses_integer_scales_only_where_exact(size, scales, tmp_path):
    model = randomize(Host("ge-theta-minus", size=size))
    model.block = type(model.block)(32, variant="theta-minus", extent=2)
    path = tmp_path / "ge.onnx"
    report = _export(model, (3, *size), path)
    resizes = [n for n in onnx.load(str(path)).graph.node if n.op_type == "Resize"]
    assert (len(resizes) == 1 and len(resizes[0].input) == 3) == scales
    # 13x13 gates at 7x7: 7 -> 13 is no integer upsample, so the pass leaves the resize and says why
    assert [line.split(" as it is: ")[1] for line in report.rewrites_left_as_is] == (
        [] if scales else ["7x7 -> 13x13 is not an integer upsample, so constant scales would pick other source pixels"])
    assert report.max_rel_error < 1e-5


@pytest.fixture(scope="module")
def plain_ops(tmp_path_factory) -> Counter:
    """onnxruntime's graph of the host without a block (its static scalar gate folds away)."""
    ops = ort_ops_of(randomize(Host("cc-static-scalar", channels=256, size=(16, 16))),
                     tmp_path_factory.mktemp("plain") / "plain.onnx")
    if not ops["nchwc:Conv"]:
        pytest.skip("onnxruntime's NCHWc layout is not used on this CPU")
    return ops


def low_resolution_host(block: str) -> Host:
    """A 256-channel host whose block gates at low resolution: GE-θ⁻ with extent 2, or MS-SAR."""
    model = randomize(Host(block, channels=256, size=(16, 16)))
    if block == "ge-theta-minus":
        model.block = type(model.block)(256, variant="theta-minus", extent=2)
    return model


@pytest.mark.parametrize("block", ["ge-theta-minus", "ms-sar"])
def test_low_resolution_gates_stay_in_the_nchwc_layout(block, plain_ops, tmp_path):
    optimized = ort_ops_of(low_resolution_host(block), tmp_path / f"{block}.onnx")
    assert reorders(optimized) <= reorders(plain_ops)
    assert optimized["nchwc:Upsample"] >= 1  # the gate is spread inside the layout


def test_unoptimized_low_resolution_gate_leaves_the_layout(plain_ops, tmp_path):
    ops = ort_ops_of(low_resolution_host("ge-theta-minus"), tmp_path / "ge.onnx", optimize=False)
    assert reorders(ops) > reorders(plain_ops)


def ort_ops_of(model, path: Path, **kw) -> Counter:
    _export(model, (3, 16, 16), path, **kw)
    return ort_ops(path)


def test_scalar_static_gate_leaves_no_node(host, tmp_path):
    report = _export(host("cc-static-scalar"), (3, 13, 13), tmp_path / "s.onnx")
    assert "Mul" not in report.op_histogram
    assert report.folding and all("no node left" in a for a in report.folding if "scalar gate" in a)


@pytest.mark.slow  # ResNet-50 at 224; test_low_resolution_gates_stay_in_the_nchwc_layout covers it small
def test_resnet50_ge_theta_minus_spreads_its_low_resolution_gates_in_the_nchwc_layout(tmp_path):
    # at 64x64 the maps are 16, 8, 4, 2 and the extent-8 gates 2, 1, 1, 1: conv2_x's three
    # 2x2 gates are spread by integer Resizes, the thirteen 1x1 gates broadcast
    path = tmp_path / "ge.onnx"
    model = create_model("resnet50", block="ge-theta-minus", extent=8, input_size=(64, 64)).eval()
    report = _export(model, (3, 64, 64), path, write_report=False)
    assert report.op_histogram["Resize"] == 3
    assert all(len(n.input) == 3 for n in onnx.load(str(path)).graph.node if n.op_type == "Resize")
    ops = ort_ops(path)
    if not ops["nchwc:Conv"]:
        pytest.skip("onnxruntime's NCHWc layout is not used on this CPU")
    assert ops["nchwc:Upsample"] == 3 and ops["nchwc:AveragePool"] == 16


def test_cli_no_optimize_flag(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "cc_vgg_mnist", "--block", "se", "-o", str(out), "--no-optimize"]) == 0
    assert "optimization: off" in capsys.readouterr().out
    assert json.loads(out.with_suffix(".report.json").read_text())["optimized"] is False
