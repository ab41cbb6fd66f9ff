"""Which nodes of each gate run in int8 and which stay in float, read from the quantised graph itself.

In a QDQ graph a node is quantised when its inputs arrive through ``DequantizeLinear`` nodes and its
output leaves through a ``QuantizeLinear``: the runtime fuses the three into an int8 kernel
(onnxruntime's QDQ selectors, OpenVINO's low-precision transformations). Any other node computes in
float, on dequantised values where its input was quantised. The gates are those the one
detector (:mod:`recalib.export.gates.detect`) finds in the float graph; the quantiser keeps node
names, so each gate's nodes are looked up by name.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import onnx

from recalib.export.gates.gate import Gate

__all__ = ["GatePlacement", "gate_placements", "is_quantized", "QDQ_OPS"]

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


@dataclass(frozen=True)
class GatePlacement:
    """One gate's nodes (``op_type:name``) split by where they compute."""

    gate: str
    quantized: tuple[str, ...]
    float: tuple[str, ...]


def is_quantized(model: onnx.ModelProto) -> bool:
    """Whether ``model`` is a QDQ graph (holds a QuantizeLinear or DequantizeLinear node)."""
    return any(node.op_type in QDQ_OPS for node in model.graph.node)


def gate_placements(quantized: onnx.ModelProto, gates: Sequence[Gate]) -> list[GatePlacement]:
    """Per gate (found in the float graph), its nodes in ``quantized`` that take dequantised inputs
    (int8) and those that take float ones."""
    producer = {out: node for node in quantized.graph.node for out in node.output}
    consumers: dict[str, list[str]] = {}
    for node in quantized.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    by_name = {node.name: node for node in quantized.graph.node}
    constants = {t.name for t in quantized.graph.initializer}
    placements = []
    for gate in gates:
        int8: list[str] = []
        floating: list[str] = []
        for name in (*gate.nodes, gate.mul):
            node = by_name.get(name)
            if node is None or node.op_type in ("Constant", "Shape"):
                continue
            data = [i for i in node.input if i and i not in constants and i in producer
                    and producer[i].op_type != "Constant"]
            dequantized = bool(data) and all(producer[i].op_type == "DequantizeLinear" for i in data)
            requantized = all(consumers.get(out) and set(consumers[out]) == {"QuantizeLinear"} for out in node.output)
            (int8 if dequantized and requantized else floating).append(f"{node.op_type}:{name}")
        placements.append(GatePlacement(gate.name, tuple(int8), tuple(floating)))
    return placements
