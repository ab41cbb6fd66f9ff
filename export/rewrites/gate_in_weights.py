"""A channel gate applied to a 1×1 convolution's weights instead of its input (the mobile gate pattern).

In an inverted-residual block (MobileNetV3, EfficientNet) the SE gate ``s`` (``(N, C_in, 1, 1)``,
one value per sample and channel) scales the depthwise output ``x`` that feeds the 1×1 projection:
``Conv(x · s, W) = W_n · x`` with ``W_n[o, i] = W[o, i] · s[n, i]``. The product ``x · s`` is a pass
over ``C_in·H·W`` values per sample; the scaled weights cost ``C_out·C_in`` multiplies per sample,
so where the map is large relative to ``C_out`` the gate nearly vanishes (issue 22's table). The
weights differ per sample, so the convolution becomes a batched product that serves any batch:
``Reshape(MatMul(W · s, Reshape(x, (N, C_in, H·W))) + b, (N, C_out, H, W))``. Only the order of
float32 roundings changes (each product ``W·s·x`` is formed as ``(W·s)·x`` instead of ``W·(x·s)``).

Preconditions, each checked on the graph: a ``Conv`` with a constant 4-D 1×1 kernel, group 1,
stride 1, no padding (and a constant bias, if any); its input the output of a ``Mul`` that nothing
else reads (else the product is still needed, and nothing is saved); one operand of the ``Mul``
a computed ``(N, C_in, 1, 1)`` gate with the feature map's batch, the other a 4-D map with static
C, H and W. A candidate that fails one is not the pattern (a depthwise or grouped consumer, a
spatial gate, a gated map read twice) and is passed over; one that fits but where the cost model
predicts no gain (:data:`MIN_PIXELS_PER_OUTPUT_CHANNEL`) is left as it is and reported.
"""
from __future__ import annotations

import numpy as np
from onnxscript import ir

from recalib.export.graph.edit import attribute, constant, constant_node, dims, replace_node
from recalib.export.graph.rewrite import GraphRewrite, LeftAsIs, Outcome, Rewritten

__all__ = ["REWRITE", "MIN_PIXELS_PER_OUTPUT_CHANNEL", "TARGET"]

MIN_PIXELS_PER_OUTPUT_CHANNEL = 64.0
"""The cost model: fire where the map's ``H·W`` is at least this many times ``C_out`` (the product
saved is ``C_in·H·W`` per sample, the weights scaled ``C_in·C_out``). Issue 22's isolated
measurement (one gate and its projection, onnxruntime) won at ``H·W/C_out`` = 130 (56×56, 24 out:
+40% -> +6%), less at 20, not at 2.5, and lost at 0.25; whole networks on a loaded machine could
not resolve a gain below that (``benchmarks/results/mobile_rewrite.md``), so only the clear case fires."""

TARGET = "onnxruntime"
"""The one target it serves. OpenVINO runs the whole net channels-last and applies the gate in one
fused ``Eltwise`` pass; the ``Reshape``/``MatMul`` form leaves that layout (EfficientNet-B0's executed
graph: 1 -> 10 ``Reorder`` layers, more time in them and the ``MatMul`` than the ``Eltwise`` saves)."""


def _gated_input(conv: ir.Node) -> tuple[ir.Value, ir.Value] | None:
    """The feature map and the gate of ``Conv(x · s)``, or None when the input is no such product."""
    product = conv.inputs[0]
    mul = None if product is None else product.producer()
    if mul is None or mul.op_type != "Mul" or mul.domain not in ("", "ai.onnx") or product is None:
        return None
    if len(product.uses()) != 1 or product.is_graph_output():
        return None
    for feature, gate in (mul.inputs, tuple(reversed(mul.inputs))):
        if feature is None or gate is None:
            return None
        shape, gate_shape = dims(feature), dims(gate)
        if shape is None or gate_shape is None or len(shape) != 4 or len(gate_shape) != 4:
            continue
        broadcast = shape[2:] != (1, 1)  # a product of two (N, C, 1, 1) values (an SE's SiLU) is no gate
        if broadcast and constant(gate) is None and gate_shape[1:] == (shape[1], 1, 1) and gate_shape[0] == shape[0]:
            return feature, gate
    return None


def _pointwise_weights(conv: ir.Node) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A 1×1, group-1, stride-1, unpadded convolution's constant weights ``(C_out, C_in)`` and bias."""
    weight = constant(conv.inputs[1])
    bias = constant(conv.inputs[2]) if len(conv.inputs) > 2 and conv.inputs[2] is not None else None
    if weight is None or weight.ndim != 4 or weight.shape[2:] != (1, 1) or attribute(conv, "group", 1) != 1:
        return None
    if len(conv.inputs) > 2 and conv.inputs[2] is not None and bias is None:
        return None
    if any(s != 1 for s in attribute(conv, "strides", [1, 1])) or any(attribute(conv, "pads", [0, 0, 0, 0])):
        return None
    if attribute(conv, "auto_pad", "NOTSET") not in ("NOTSET", "VALID"):
        return None
    return weight[:, :, 0, 0], bias


def _int64(values: list[int]) -> ir.Node:
    return constant_node(np.array(values, dtype=np.int64))


def _batched_product(conv: ir.Node, feature: ir.Value, gate: ir.Value, weight: np.ndarray,
                     bias: np.ndarray | None, hw: tuple[int, int]) -> None:
    """Replace ``conv`` (and the ``Mul`` it reads) by the gate in the weights, as one batched MatMul."""
    c_out, c_in = weight.shape
    gate_shape, map_shape, out_shape = _int64([0, 1, c_in]), _int64([0, c_in, hw[0] * hw[1]]), _int64([0, c_out, *hw])
    weights = constant_node(weight.reshape(1, c_out, c_in))
    gate_row = ir.node("Reshape", [gate, gate_shape.outputs[0]])
    scaled = ir.node("Mul", [weights.outputs[0], gate_row.outputs[0]])
    flat = ir.node("Reshape", [feature, map_shape.outputs[0]])
    product = ir.node("MatMul", [scaled.outputs[0], flat.outputs[0]])
    nodes = [gate_shape, map_shape, out_shape, weights, gate_row, scaled, flat, product]
    if bias is not None:
        column = constant_node(bias.reshape(c_out, 1))
        product = ir.node("Add", [product.outputs[0], column.outputs[0]])
        nodes += [column, product]
    out = ir.node("Reshape", [product.outputs[0], out_shape.outputs[0]], name=conv.name)
    replace_node(conv, [*nodes, out], out.outputs[0])


def _visit(node: ir.Node) -> Outcome | None:
    if node.op_type != "Conv" or node.domain not in ("", "ai.onnx"):
        return None
    gated, kernel = _gated_input(node), _pointwise_weights(node)
    if gated is None or kernel is None:
        return None
    feature, gate = gated
    shape = dims(feature)
    assert shape is not None
    c_in, height, width = shape[1:]
    if not (isinstance(c_in, int) and isinstance(height, int) and isinstance(width, int)):
        return LeftAsIs(f"the gated map's C, H, W ({c_in}, {height}, {width}) are not static; export "
                        "with a fixed input size")
    c_out = kernel[0].shape[0]
    if height * width < MIN_PIXELS_PER_OUTPUT_CHANNEL * c_out:
        return LeftAsIs(f"{height}x{width} map, {c_out} output channels: under {MIN_PIXELS_PER_OUTPUT_CHANNEL:g} "
                        f"pixels per output channel, scaling the weights ({c_in}x{c_out} per sample) is not "
                        "predicted to save time")
    _batched_product(node, feature, gate, kernel[0], kernel[1], (height, width))
    return Rewritten(f"gate folded into the {c_in}->{c_out} weights per sample ({height}x{width} map)")



REWRITE = GraphRewrite(
    "gate-in-weights", "a per-channel gate feeding a 1x1 conv applied to its weights per sample (one batched "
    "MatMul) where the map is large", (TARGET,), _visit)
