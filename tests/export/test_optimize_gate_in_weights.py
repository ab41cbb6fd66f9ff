"""The mobile gate pattern, ``Conv1x1(x · s)``, rewritten as the gate in the weights: exact, fired where
the pattern and the cost model say so, passed over where the pattern differs, reported."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnxscript import ir

from export_helpers import randomize
from gates_testing import fm
from graph_testing import save
from recalib import create_model
from recalib.export import optimize as optimizing
from recalib.export.gates.modules import module_graph
from recalib.export.onnx_export import to_onnx
from recalib.export.optimize import optimize_graph
from recalib.export.optimize_file import optimize_file
from recalib.export.options import ExportOptions, OptimizeOptions
from recalib.export.rewrites import gate_in_weights
from recalib.export.verify import run_onnx

FIRED = "gate-in-weights x1"


def _tensor(rng: np.random.Generator, name: str, *shape: int) -> onnx.TensorProto:
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.5, name)


def _mobile_block(variant: str = "gate", c_in: int = 16, c_out: int = 4, hw: int = 16) -> onnx.ModelProto:
    """depthwise conv -> SE gate (mean, 1x1 reduce, ReLU, 1x1 expand, sigmoid) -> x·s -> 1x1 projection;
    ``variant`` changes one thing: the projection depthwise or grouped, a spatial gate, the product read twice."""
    rng = np.random.default_rng(3)
    group = {"depthwise": c_in, "grouped": 2}.get(variant, 1)
    out = c_in if variant == "depthwise" else c_out
    weights = [_tensor(rng, "dw", c_in, 1, 3, 3), _tensor(rng, "r", 4, c_in, 1, 1), _tensor(rng, "rb", 4),
               _tensor(rng, "e", c_in, 4, 1, 1), _tensor(rng, "eb", c_in),
               _tensor(rng, "p", out, c_in // group, 1, 1), _tensor(rng, "pb", out)]
    squeeze = [helper.make_node("GlobalAveragePool", ["x"], ["m"])]
    if variant == "spatial":  # one gate value per position: a mean over the channels, spread over them
        squeeze = [helper.make_node("ReduceMean", ["x", "one"], ["m0"], keepdims=1),
                   helper.make_node("Expand", ["m0", "shape"], ["m"])]
        weights += [numpy_helper.from_array(np.array([1], np.int64), "one"),
                    numpy_helper.from_array(np.array([1, c_in, hw, hw], np.int64), "shape")]
    nodes = [helper.make_node("Conv", ["input", "dw"], ["x"], group=c_in, pads=[1, 1, 1, 1]), *squeeze,
             helper.make_node("Conv", ["m", "r", "rb"], ["h"]), helper.make_node("Relu", ["h"], ["hr"]),
             helper.make_node("Conv", ["hr", "e", "eb"], ["g"]), helper.make_node("Sigmoid", ["g"], ["s"]),
             helper.make_node("Mul", ["x", "s"], ["xs"]),
             helper.make_node("Conv", ["xs", "p", "pb"], ["y" if variant == "read-twice" else "output"], group=group)]
    if variant == "read-twice":
        nodes.append(helper.make_node("Concat", ["y", "xs"], ["output"], axis=1))
    batch = 1 if variant == "spatial" else "N"
    graph = helper.make_graph(nodes, "mobile", [helper.make_tensor_value_info("input", 1, [batch, c_in, hw, hw])],
                              [helper.make_tensor_value_info("output", 1, None)], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])


def _ops(path: Path) -> Counter:
    return Counter(n.op_type for n in onnx.load(str(path)).graph.node)


def test_the_gate_goes_into_the_weights_exactly_at_every_batch(tmp_path: Path) -> None:
    source = save(_mobile_block(), tmp_path / "in.onnx")
    report = optimize_file(source, tmp_path / "out.onnx", OptimizeOptions(target="onnxruntime", seed=0))
    assert [line.split(":")[0] for line in report.graph_pass.fired()] == [FIRED]
    ops = _ops(tmp_path / "out.onnx")
    assert ops["Conv"] == 3 and ops["MatMul"] == 1 and ops["Mul"] == 1  # the Mul now scales 16x4 weights
    for batch in (1, 5):
        x = np.random.default_rng(batch).standard_normal((batch, 16, 16, 16)).astype(np.float32)
        expected, got = run_onnx(source, x)[0], run_onnx(tmp_path / "out.onnx", x)[0]
        assert got.shape == expected.shape == (batch, 4, 16, 16)
        assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("variant", ["depthwise", "grouped", "spatial", "read-twice"])
def test_it_does_not_fire_where_the_pattern_differs(variant: str, tmp_path: Path) -> None:
    source = save(_mobile_block(variant), tmp_path / "in.onnx")
    report = optimize_file(source, tmp_path / "out.onnx", OptimizeOptions(seed=0))
    assert not [e for e in report.graph_pass.entries if e.rewrite == "gate-in-weights"]
    assert _ops(tmp_path / "out.onnx")["MatMul"] == 0


def test_a_small_map_is_left_as_it_is_with_the_cost_models_reason(tmp_path: Path) -> None:
    source = save(_mobile_block(c_out=64, hw=8), tmp_path / "in.onnx")  # 64 pixels, 64 output channels
    report = optimize_file(source, tmp_path / "out.onnx", OptimizeOptions(seed=0))
    (left,) = report.graph_pass.left_as_is()
    assert left.startswith("gate-in-weights left Conv") and "not predicted to save time" in left
    assert report.graph_pass.fired() == [] and _ops(tmp_path / "out.onnx")["MatMul"] == 0


def _fired_and_left(report_lines: list[str]) -> tuple[int, int]:
    fired = [int(r.split(":")[0].split(" x")[-1]) for r in report_lines if r.startswith("gate-in-weights x")]
    return sum(fired), sum(r.startswith("gate-in-weights left") for r in report_lines)


@pytest.mark.parametrize("arch", ["efficientnet_b0", "mobilenet_v3_large"])
def test_it_fires_on_the_mobile_look_alikes_early_stages_and_stays_exact(arch: str, tmp_path: Path) -> None:
    """timm/torchvision-style networks (quarter width, torch's graph unfolded): EfficientNet's early,
    large-map projections take their gate in the weights, the late ones keep the product; MobileNetV3's
    first gate sits at a map too small for the cost model, so every one is left as it is; outputs agree."""
    model = randomize(getattr(fm, arch)(width=0.25)).eval()
    proto = module_graph(model, (3, 64, 64))
    graph = ir.from_proto(proto)
    report = optimize_graph(graph, "onnxruntime")
    fired, left = _fired_and_left([*report.fired(), *report.left_as_is()])
    rewritten = ir.to_proto(graph)
    assert (fired >= 1) == (arch == "efficientnet_b0") and left >= 1 and Counter(n.op_type for n in rewritten.graph.node)["MatMul"] == fired
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    expected = run_onnx(save(proto, tmp_path / "in.onnx"), x)[0]
    got = run_onnx(save(rewritten, tmp_path / "out.onnx"), x)[0]
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["efficientnet_b0", "mobilenet_v3_large"])
def test_recalibs_mobile_networks_export_with_their_gates_in_the_weights(arch: str, tmp_path: Path) -> None:
    model = randomize(create_model(arch)).eval()
    report = to_onnx(model, (3, 224, 224), tmp_path / "m.onnx", ExportOptions(optimize=True))
    fired, left = _fired_and_left([*report.rewrites, *report.rewrites_left_as_is])
    assert (fired, left) == {"efficientnet_b0": (3, 13), "mobilenet_v3_large": (0, 8)}[arch]
    assert report.max_rel_error < 1e-4


def test_openvinos_form_keeps_the_product_it_fuses(tmp_path: Path) -> None:
    source = save(_mobile_block(), tmp_path / "in.onnx")
    report = optimize_file(source, tmp_path / "out.onnx", OptimizeOptions(target="openvino", seed=0))
    assert report.graph_pass.entries == [] and _ops(tmp_path / "out.onnx") == _ops(source)
    assert gate_in_weights.REWRITE in optimizing.graph_rewrites("onnxruntime")
    assert gate_in_weights.REWRITE not in optimizing.graph_rewrites("openvino")
