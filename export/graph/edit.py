"""Reading and editing a graph the way every rewrite needs: constants, dims, one node replaced.

The graph is onnx_ir's (what torch's exporter builds, and what :func:`onnx_ir.load` reads), so an
export and a file on disk go through the same rewrites. :func:`replace_node` is the one way a
rewrite changes a graph: the replacement takes the old output's name (a graph output stays one),
and every node and initializer that only the old node used goes with it.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Union

import numpy as np
from onnxscript import ir

__all__ = ["node_label", "constant", "constant_node", "dims", "attribute", "replace_node", "Dim"]

Dim = Union[int, str, None]
"""One dim of a value: a static size, a symbolic dim's name, or None where nothing is known."""


def node_label(node: ir.Node) -> str:
    """How reports name a node: its op and name, else its op and first output."""
    if node.name:
        return f"{node.op_type} {node.name!r}"
    output = node.outputs[0].name if node.outputs else "?"
    return f"{node.op_type} -> {output!r}"


def constant(value: ir.Value | None) -> np.ndarray | None:
    """The value of an initializer or a Constant node's output (None: not a constant, or absent)."""
    if value is None:
        return None
    tensor = ir.convenience.get_const_tensor(value)
    return None if tensor is None else np.asarray(tensor.numpy())


def constant_node(array: np.ndarray) -> ir.Node:
    """A ``Constant`` node holding ``array`` (its dtype kept), for a rewrite's new shapes and weights."""
    return ir.node("Constant", [], {"value": ir.tensor(np.ascontiguousarray(array))})


def dims(value: ir.Value) -> tuple[Dim, ...] | None:
    """``value``'s dims as shape inference left them (None: even its rank is unknown)."""
    if value.shape is None:
        return None
    return tuple(d if isinstance(d, int) else (d.value if d.value else None) for d in value.shape)


def attribute(node: ir.Node, name: str, default: Any) -> Any:
    """The value of ``node``'s attribute ``name``, else the op's ``default``."""
    attr = node.attributes.get(name)
    return default if attr is None else attr.value


def replace_node(node: ir.Node, new_nodes: Sequence[ir.Node], output: ir.Value) -> None:
    """Put ``new_nodes`` (computing ``output``) in place of one-output ``node``, whose output's name,
    type and uses ``output`` takes; then drop what only ``node`` used."""
    graph = node.graph
    assert graph is not None, "only a node of a graph can be replaced"
    inputs = [v for v in node.inputs if v is not None]
    ir.convenience.replace_nodes_and_values(graph, node, [node], new_nodes, [node.outputs[0]], [output])
    for value in inputs:
        _drop_if_unused(graph, value)


def _drop_if_unused(graph: ir.Graph, value: ir.Value) -> None:
    """Remove ``value``'s producer (or initializer) when nothing uses it any more, and so on upward."""
    if value.uses() or value.is_graph_output() or value.is_graph_input():
        return
    if value.is_initializer():
        graph.initializers.pop(value.name or "", None)
        return
    producer = value.producer()
    if producer is None or any(out.uses() or out.is_graph_output() for out in producer.outputs):
        return
    inputs = [v for v in producer.inputs if v is not None]
    graph.remove(producer, safe=True)
    for upstream in inputs:
        _drop_if_unused(graph, upstream)
