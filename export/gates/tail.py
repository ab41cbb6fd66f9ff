"""A gate's constant scale that a rewrite moved after its multiply.

An exact rewrite may apply part of a gate after the product: onnxruntime's form of MS-SAR
averages its three gates as ``Conv(x * (g1 + g2 + g3), 1/3)``, a depthwise 1×1 convolution by a
constant after the multiply (:mod:`recalib.export.rewrites.ms_sar`). Ablating the multiply alone
would leave ``x / 3``, not ``x``. So a chain of constant per-channel scales (a ``Mul`` or ``Div`` by
a constant, a bias-free depthwise 1×1 ``Conv`` with constant weights) that alone reads the product
belongs to the gate, where the graph says those nodes are the gate module's own (torch's module
paths); a graph without module paths gives no such evidence, and its gates end at the multiply.
"""
from __future__ import annotations

import onnx

from recalib.export.gates.scopes import ModuleMap
from recalib.export.graph.index import GraphIndex, attribute, node_name

__all__ = ["scale_tail"]


def _constant_scale(index: GraphIndex, node: onnx.NodeProto, source: str) -> bool:
    """Whether ``node`` multiplies ``source`` by constants, channel by channel at most."""
    if node.op_type in ("Mul", "Div") and len(node.input) == 2:
        other = node.input[1] if node.input[0] == source else node.input[0]
        return other in index.constants and (node.op_type == "Mul" or node.input[0] == source)
    if node.op_type != "Conv" or node.input[0] != source or len(node.input) > 2 or node.input[1] not in index.constants:
        return False
    weight = index.shape(node.input[1])
    return weight is not None and tuple(weight[1:]) == (1, 1, 1) and attribute(node, "group", 1) == weight[0]


def scale_tail(index: GraphIndex, modules: ModuleMap, mul: onnx.NodeProto, module: str | None) -> list[onnx.NodeProto]:
    """The constant scales after ``mul`` that belong to the gate of ``module`` (see the module docstring)."""
    tail: list[onnx.NodeProto] = []
    current = mul.output[0]
    while module is not None and current not in index.outputs:
        readers = index.consumers.get(current, [])
        if len(readers) != 1 or not _constant_scale(index, readers[0], current):
            break
        scope = modules.scopes.get(node_name(readers[0]))
        if scope is None or module not in scope or index.shape(readers[0].output[0]) != index.shape(current):
            break
        tail.append(readers[0])
        current = readers[0].output[0]
    return tail
