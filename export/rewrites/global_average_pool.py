"""A spatial mean as ``GlobalAveragePool``: the squeeze of SE-like gates, kept in onnxruntime's layout.

``x.mean((2, 3), keepdim=True)`` (timm's squeeze; torchvision's ``adaptive_avg_pool2d(x, 1)``
exports to ``GlobalAveragePool`` already) exports as ``ReduceMean``, which onnxruntime's
blocked NCHWc layout does not run (:mod:`recalib.export.optimize`), so the feature map is copied out
of the layout for it. ``GlobalAveragePool`` stays in the layout when its input is in it, and on
OpenVINO runs as the same ``Reduce``. Both compute the mean over H and W of a 4-D float tensor;
only the order of the float32 sums may differ.

Preconditions: a 4-D float input, the reduced axes exactly {2, 3} (given as a constant, negative
or not), the dims kept (``keepdims=1``). A spatial mean that drops its dims (``keepdims=0``,
a ``(N, C)`` descriptor) is a gate's squeeze all the same: it is left as it is and reported.
"""
from __future__ import annotations

from onnxscript import ir

from recalib.export.graph.edit import attribute, constant, dims, replace_node
from recalib.export.graph.rewrite import GraphRewrite, LeftAsIs, Outcome, Rewritten
from recalib.export.rewrites import TARGETS

__all__ = ["REWRITE"]

_FLOATS = (ir.DataType.FLOAT, ir.DataType.FLOAT16, ir.DataType.DOUBLE)


def _axes(node: ir.Node) -> list[int] | None:
    """The reduced axes: the ``axes`` input (opset 18) or attribute (earlier); None when not constant."""
    if len(node.inputs) > 1 and node.inputs[1] is not None:
        values = constant(node.inputs[1])
        return None if values is None else [int(a) for a in values.reshape(-1)]
    return attribute(node, "axes", None)


def _visit(node: ir.Node) -> Outcome | None:
    if node.op_type != "ReduceMean" or node.domain not in ("", "ai.onnx"):
        return None
    x = node.inputs[0]
    shape = None if x is None else dims(x)
    axes = _axes(node)
    if x is None or shape is None or len(shape) != 4 or axes is None or sorted(a % 4 for a in axes) != [2, 3]:
        return None  # not a spatial mean of a feature map (or its axes are computed at run time)
    if not attribute(node, "keepdims", 1):
        return LeftAsIs("keepdims=0: the mean drops H and W, and GlobalAveragePool keeps them (a Reshape "
                        "after it would be a second node)")
    if x.dtype not in _FLOATS:
        return LeftAsIs(f"input of type {x.dtype}: GlobalAveragePool takes float tensors only")
    pool = ir.node("GlobalAveragePool", [x])
    replace_node(node, [pool], pool.outputs[0])
    return Rewritten("GlobalAveragePool")


REWRITE = GraphRewrite(
    "global-average-pool", "spatial mean over (H, W) exported as GlobalAveragePool (was ReduceMean)",
    TARGETS, _visit)
