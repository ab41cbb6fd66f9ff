"""Sigmoid-like squashes in a graph, and what each is (``sigmoid``, ``hard sigmoid`` …).

A gate's values are bounded: ``Sigmoid``, ``HardSigmoid`` and ``Tanh`` are, and so is a ``Clip``
with constant finite bounds, which is how exporters write hard sigmoids by hand (timm's
``relu6(x + 3) / 6`` is ``Add`` → ``Clip(0, 6)`` → ``Div``). :func:`is_squash` decides whether a
node bounds its output; :func:`squash_name` names it from its neighbourhood.
"""
from __future__ import annotations

import math

import onnx

from recalib.export.graph.index import GraphIndex, attribute

__all__ = ["is_squash", "squash_name", "clip_bounds"]

_BOUNDED = {"Sigmoid": "sigmoid", "HardSigmoid": "hard sigmoid", "Tanh": "tanh"}


def _scalar(index: GraphIndex, name: str) -> float | None:
    value = index.value(name) if name else None
    return float(value.reshape(-1)[0]) if value is not None and value.size == 1 else None


def clip_bounds(index: GraphIndex, node: onnx.NodeProto) -> tuple[float, float] | None:
    """A ``Clip``'s constant (min, max) (inputs since opset 11, attributes before), None if either is missing."""
    if len(node.input) > 1:
        low = _scalar(index, node.input[1])
        high = _scalar(index, node.input[2]) if len(node.input) > 2 else None
    else:
        low, high = attribute(node, "min"), attribute(node, "max")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        return None
    return float(low), float(high)


def is_squash(index: GraphIndex, node: onnx.NodeProto) -> bool:
    """Whether ``node`` bounds its output (a sigmoid-like activation)."""
    return node.op_type in _BOUNDED or (node.op_type == "Clip" and clip_bounds(index, node) is not None)


def _constant_operand(index: GraphIndex, node: onnx.NodeProto | None, op: str) -> float | None:
    """The scalar constant operand of ``node`` when it is an ``op`` of a tensor and a constant."""
    if node is None or node.op_type != op:
        return None
    values = [_scalar(index, name) for name in node.input]
    return next((v for v in values if v is not None), None)


def _close(value: float | None, target: float) -> bool:
    """``value`` is ``target`` up to float32 rounding (constants are stored in float32)."""
    return value is not None and math.isclose(value, target, rel_tol=1e-6)


def _only_consumer(index: GraphIndex, node: onnx.NodeProto) -> onnx.NodeProto | None:
    consumers = index.consumers.get(node.output[0], [])
    return consumers[0] if len(consumers) == 1 else None


def squash_name(index: GraphIndex, node: onnx.NodeProto) -> str:
    """``sigmoid``, ``hard sigmoid``, ``tanh``, ``hard sigmoid as relu6(x+3)/6``, ``clip(0, 1)`` …"""
    if node.op_type in _BOUNDED:
        return _BOUNDED[node.op_type]
    low, high = clip_bounds(index, node) or (math.nan, math.nan)
    before = index.producers.get(node.input[0])
    after = _only_consumer(index, node)
    shifted = _close(_constant_operand(index, before, "Add"), 3.0)
    divided = _close(_constant_operand(index, after, "Div"), 6.0) or _close(_constant_operand(index, after, "Mul"), 1 / 6)
    if (low, high) == (0.0, 6.0) and shifted and divided:
        return "hard sigmoid as relu6(x+3)/6"
    return f"clip({low:g}, {high:g})"
