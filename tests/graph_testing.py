"""Graphs as another exporter writes them, built with ``onnx.helper``: no value_info, gates by pattern;
and a rewrite that is not exact, to prove that verification refuses it.

:func:`gated_graph` is a stem conv, an SE gate (``ReduceMean`` squeeze, two 1x1 convs, sigmoid,
broadcast ``Mul``), a conv and a GE-θ⁻-like low-resolution gate on its output (2x2 average pool,
sigmoid, nearest ``Resize`` by *sizes*, ``Mul``), then the residual sum. The sizes are computed the way
``sizes`` names: torch's ``Shape(start, end)`` + ``Concat``, older exporters' ``Slice`` or
``Gather``/``Unsqueeze`` chains, a constant (fixed batch), or, for dynamic H and W, from the feature
map's own shape (which no rewrite can prove integer).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from onnxscript import ir

from recalib.export.graph.edit import replace_node
from recalib.export.graph.rewrite import GraphRewrite, Outcome, Rewritten

SIZES = ("shape-concat", "slice-concat", "gather-unsqueeze", "constant", "dynamic")


def _int64(name: str, values: list[int]) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def _weights(rng: np.random.Generator, channels: int) -> list[onnx.TensorProto]:
    def conv(name: str, out: int, inp: int, k: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal((out, inp, k, k)) / np.sqrt(inp * k * k)).astype(np.float32),
                                       name)
    hidden = channels // 4
    return [conv("w0", channels, 3, 3), conv("w1", hidden, channels, 1), conv("w2", channels, hidden, 1),
            conv("w3", channels, channels, 3), numpy_helper.from_array(rng.uniform(-.5, .5, hidden).astype(np.float32), "b1"),
            numpy_helper.from_array(rng.uniform(-.5, .5, channels).astype(np.float32), "b2"), _int64("axes", [2, 3])]


def _sizes(kind: str, hw: tuple[int, int], batch: int | str, channels: int) -> tuple[list[onnx.NodeProto], list]:
    """Nodes computing the resize's ``sizes`` (named ``sizes``) for ``kind``, and their constants."""
    if kind == "constant":
        return [], [_int64("sizes", [int(batch), channels, *hw])]
    if kind == "dynamic":
        return [helper.make_node("Shape", ["gate"], ["nc"], start=0, end=2),
                helper.make_node("Shape", ["body"], ["hw"], start=2),
                helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0)], []
    constants = [_int64("hw_const", list(hw))]
    if kind == "shape-concat":
        nodes = [helper.make_node("Shape", ["gate"], ["nc"], start=0, end=2)]
    elif kind == "slice-concat":
        nodes = [helper.make_node("Shape", ["gate"], ["shape"]),
                 helper.make_node("Slice", ["shape", "zero", "two"], ["nc"])]
        constants += [_int64("zero", [0]), _int64("two", [2])]
    else:
        nodes = [helper.make_node("Shape", ["gate"], ["shape"]),
                 helper.make_node("Gather", ["shape", "i0"], ["n"], axis=0),
                 helper.make_node("Gather", ["shape", "i1"], ["c"], axis=0),
                 helper.make_node("Unsqueeze", ["n", "ax0"], ["n1"]), helper.make_node("Unsqueeze", ["c", "ax0"], ["c1"]),
                 helper.make_node("Concat", ["n1", "c1"], ["nc"], axis=0)]
        constants += [numpy_helper.from_array(np.array(0, np.int64), "i0"),
                      numpy_helper.from_array(np.array(1, np.int64), "i1"), _int64("ax0", [0])]
    return nodes + [helper.make_node("Concat", ["nc", "hw_const"], ["sizes"], axis=0)], constants


def gated_graph(sizes: str = "shape-concat", channels: int = 32, hw: tuple[int, int] = (8, 8),
                batch: int | str = "N", seed: int = 0, opset: int = 18) -> onnx.ModelProto:
    """The graph of the module docstring, ``(batch, 3, *hw)`` in, ``(batch, channels, *hw)`` out."""
    rng = np.random.default_rng(seed)
    dims: list = [batch, 3, *hw] if sizes != "dynamic" else [batch, 3, "H", "W"]
    size_nodes, size_constants = _sizes(sizes, hw, batch, channels)
    nodes = [
        helper.make_node("Conv", ["input", "w0"], ["stem"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["stem"], ["r"]),
        helper.make_node("ReduceMean", ["r", "axes"], ["squeezed"], keepdims=1),
        helper.make_node("Conv", ["squeezed", "w1", "b1"], ["fc1"]), helper.make_node("Relu", ["fc1"], ["act"]),
        helper.make_node("Conv", ["act", "w2", "b2"], ["fc2"]), helper.make_node("Sigmoid", ["fc2"], ["g"]),
        helper.make_node("Mul", ["r", "g"], ["se"]),
        helper.make_node("Conv", ["se", "w3"], ["body"], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["body"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Sigmoid", ["pooled"], ["gate"]),
        *size_nodes,
        helper.make_node("Resize", ["gate", "", "", "sizes"], ["spread"], mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor"),
        helper.make_node("Mul", ["body", "spread"], ["ge"]),
        helper.make_node("Add", ["ge", "r"], ["sum"]), helper.make_node("Relu", ["sum"], ["output"]),
    ]
    out_dims = [batch, channels, *dims[2:]]
    graph = helper.make_graph(nodes, "another_exporter", [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_dims)],
                              _weights(rng, channels) + size_constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="another-exporter")
    onnx.checker.check_model(model)
    return model


def save(model: onnx.ModelProto, path: Path) -> Path:
    onnx.save(model, str(path))
    return path


def _sigmoid_to_tanh(node: ir.Node) -> Outcome | None:
    if node.op_type != "Sigmoid":
        return None
    tanh = ir.node("Tanh", [node.inputs[0]])
    replace_node(node, [tanh], tanh.outputs[0])
    return Rewritten("Tanh")


def sigmoid_as_tanh() -> GraphRewrite:
    """A rewrite that is not exact (a gate's sigmoid becomes a tanh): what verification must refuse."""
    return GraphRewrite("sigmoid-as-tanh", "not exact", ("onnxruntime", "openvino"), _sigmoid_to_tanh)
