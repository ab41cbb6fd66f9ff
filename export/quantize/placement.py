"""Which nodes of a QDQ graph run in int8 and which stay in float, read from the quantised graph itself.

In a QDQ graph a node is quantised when its inputs arrive through ``DequantizeLinear`` nodes and its
output leaves through a ``QuantizeLinear`` (or is a graph output, as the classifier's ``Gemm`` is):
the runtime fuses them into an int8 kernel (onnxruntime's QDQ selectors, OpenVINO's low-precision
transformations). Any other node computes in float, on dequantised values where its input was
quantised. Reported two ways: per gate (the one detector, :mod:`recalib.export.gates.detect`, finds
them in the float graph; the quantiser keeps node names, so each gate's nodes are looked up by name),
and graph-wide (:func:`float_compute_nodes`: what the recipe left in float, a residual ``Add`` included).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import onnx

from recalib.export.gates.gate import Gate
from recalib.export.graph.index import GraphIndex

__all__ = ["GatePlacement", "gate_placements", "float_compute_nodes", "is_quantized", "QDQ_OPS"]

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
_REQUANTIZED = {"QuantizeLinear"}  # the consumers of an int8 node's output
_NOT_COMPUTE = (*QDQ_OPS, "Constant", "Shape")  # nodes that compute nothing a precision applies to


@dataclass(frozen=True)
class GatePlacement:
    """One gate's nodes (``op_type:name``) split by where they compute."""

    gate: str
    quantized: tuple[str, ...]
    float: tuple[str, ...]


def is_quantized(model: onnx.ModelProto) -> bool:
    """Whether ``model`` is a QDQ graph (holds a QuantizeLinear or DequantizeLinear node)."""
    return any(node.op_type in QDQ_OPS for node in model.graph.node)


def _in_int8(graph: GraphIndex, node: onnx.NodeProto) -> bool:
    """All of ``node``'s data inputs dequantised, each output requantised or a graph output."""
    data = [i for i in node.input if i and i not in graph.constants and i in graph.producers]
    dequantized = bool(data) and all(graph.producers[i].op_type == "DequantizeLinear" for i in data)
    return dequantized and all(out in graph.outputs or {n.op_type for n in graph.consumers.get(out, ())} == _REQUANTIZED
                               for out in node.output)


def _label(node: onnx.NodeProto) -> str:
    return f"{node.op_type}:{node.name}"


def gate_placements(quantized: onnx.ModelProto, gates: Sequence[Gate]) -> list[GatePlacement]:
    """Per gate (found in the float graph), its nodes in ``quantized`` that run in int8 and those in float."""
    graph = GraphIndex(quantized)
    by_name = {node.name: node for node in quantized.graph.node}
    placements = []
    for gate in gates:
        nodes = [by_name[name] for name in (*gate.nodes, gate.mul)
                 if name in by_name and by_name[name].op_type not in _NOT_COMPUTE]
        placements.append(GatePlacement(gate.name, tuple(_label(n) for n in nodes if _in_int8(graph, n)),
                                        tuple(_label(n) for n in nodes if not _in_int8(graph, n))))
    return placements


def float_compute_nodes(quantized: onnx.ModelProto) -> list[str]:
    """Every node of ``quantized`` (``op_type:name``) that computes in float, in graph order."""
    graph = GraphIndex(quantized)
    return [_label(node) for node in quantized.graph.node
            if node.op_type not in _NOT_COMPUTE and not _in_int8(graph, node)]
