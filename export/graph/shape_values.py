"""What a small shape computation in a graph holds: numbers, or dims of named tensors.

Exporters compute a ``Resize``'s ``sizes`` (or a ``Reshape``'s shape) from ``Shape`` nodes:
``Concat(Shape(x, start=0, end=2), [H, W])`` from torch, ``Slice``, ``Gather`` and ``Unsqueeze``
variants from others. ONNX shape inference gives such a result's static entries but names a
symbolic batch anew after it, so "the output keeps x's batch" cannot be read from inferred
shapes. :func:`shape_items` evaluates the computation symbolically instead: each entry is a
number or ``(value, i)``, dim ``i`` of that tensor, exactly as the graph computes it at run time.
"""
from __future__ import annotations

from typing import Union

from onnxscript import ir

from recalib.export.graph.edit import attribute, constant

__all__ = ["Item", "shape_items"]

Item = Union[int, tuple[ir.Value, int]]
"""One entry of a shape computation: a number, or dim ``i`` of a tensor."""

_PASS_THROUGH = ("Identity", "Unsqueeze", "Squeeze")  # a 0-D or 1-D entry list is the same list here


def _shape_of(node: ir.Node) -> list[Item] | None:
    x = node.inputs[0]
    if x is None or x.shape is None:
        return None
    dims: list[Item] = [(x, i) for i in range(len(x.shape))]
    return dims[slice(attribute(node, "start", 0), attribute(node, "end", len(dims)))]


def _sliced(node: ir.Node) -> list[Item] | None:
    items = shape_items(node.inputs[0])
    bounds = [constant(v) if v is not None else None for v in node.inputs[1:5]]
    if items is None or bounds[0] is None or bounds[1] is None:
        return None
    if any(b is not None and (b.size != 1 or int(b.reshape(-1)[0]) != want) for b, want in zip(bounds[2:], (0, 1))):
        return None  # only the one axis, step 1
    return items[int(bounds[0].reshape(-1)[0]):int(bounds[1].reshape(-1)[0])]


def _gathered(node: ir.Node) -> list[Item] | None:
    items, indices = shape_items(node.inputs[0]), constant(node.inputs[1])
    if items is None or indices is None or attribute(node, "axis", 0) != 0:
        return None
    picked = [int(i) for i in indices.reshape(-1)]
    return [items[i] for i in picked] if all(-len(items) <= i < len(items) for i in picked) else None


def _concatenated(node: ir.Node) -> list[Item] | None:
    parts = [shape_items(v) for v in node.inputs]
    if attribute(node, "axis", 0) not in (0, -1) or any(p is None for p in parts):
        return None
    return [item for part in parts for item in part or []]


def shape_items(value: ir.Value | None) -> list[Item] | None:
    """The entries of the 0-D or 1-D integer tensor ``value`` (None: not computed from constants and shapes alone)."""
    if value is None:
        return None
    known = constant(value)
    if known is not None:
        return [int(v) for v in known.reshape(-1)] if known.dtype.kind in "iu" and known.ndim <= 1 else None
    node = value.producer()
    if node is None or node.domain not in ("", "ai.onnx"):
        return None
    if node.op_type == "Shape":
        return _shape_of(node)
    if node.op_type == "Slice":
        return _sliced(node)
    if node.op_type == "Gather":
        return _gathered(node)
    if node.op_type == "Concat":
        return _concatenated(node)
    if node.op_type in _PASS_THROUGH or (node.op_type == "Cast" and attribute(node, "to", 0) == ir.DataType.INT64):
        return shape_items(node.inputs[0])
    return None
