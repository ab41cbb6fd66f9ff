"""A nearest upsample by integer factors with constant ``scales`` instead of ``sizes``.

A low-resolution gate (GE-θ⁻'s, MS-SAR's) is spread back over its feature map by a nearest
``Resize``; exporters write it with ``sizes`` (torch's from a ``Shape``→``Concat`` chain, others as
constants). onnxruntime keeps a ``Resize`` in its blocked NCHWc layout only with constant
integer ``scales``, mode ``nearest``, ``asymmetric`` coordinates and ``floor`` picks
(``nchwc_transformer.cc``), so with sizes the gate leaves the layout and the ``Mul`` that applies it
runs outside too. With ``scales = (1, 1, H/h, W/w)`` it stays in the layout; on OpenVINO the
``Shape`` chain that computed the sizes goes away.

Preconditions, each checked on the graph: a 4-D input with static h and w; an output size the
sizes input fixes statically (a constant, or computed from shapes that inference resolves) with
the batch and channel dims unchanged; ``H/h`` and ``W/w`` integers whose ``floor(i / s)`` source
pixels are exactly the ones the sizes form picks (:func:`integer_scale`); mode ``nearest`` with
``asymmetric`` coordinates and ``floor`` picks (PyTorch's nearest); the default ``stretch`` policy
and no ``axes``. The rewritten output carries its shape with the input's symbolic batch: the layout
pass runs the gate's ``Mul`` in NCHWc only when it can prove both shapes equal, and ONNX shape
inference names the batch anew after a ``Resize``. A candidate that fails a precondition (dynamic
spatial sizes, say) is left as it is and reported.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnxscript import ir

from recalib.export.decompose import onnx_nearest_indices, torch_nearest_indices
from recalib.export.graph.edit import Dim, attribute, constant, constant_node, dims, replace_node
from recalib.export.graph.rewrite import GraphRewrite, LeftAsIs, Outcome, Rewritten
from recalib.export.graph.shape_values import Item, shape_items
from recalib.export.rewrites import TARGETS

__all__ = ["REWRITE", "integer_scale"]

_KEPT_FORM = {"mode": "nearest", "coordinate_transformation_mode": "asymmetric", "nearest_mode": "floor"}
_DEFAULTS = {"mode": "nearest", "coordinate_transformation_mode": "half_pixel", "nearest_mode": "round_prefer_floor"}


def integer_scale(n_in: int, n_out: int, picks: Sequence[int] | None = None) -> int | None:
    """``n_out / n_in`` if it is an integer whose ``floor(i / s)`` source pixels are ``picks``
    (PyTorch's nearest picks when not given); else None."""
    if n_in < 1 or n_out % n_in:
        return None
    scale = n_out // n_in
    wanted = torch_nearest_indices(n_in, n_out) if picks is None else list(picks)
    return scale if wanted == [i // scale for i in range(n_out)] else None


def _entry(item: Item, x: ir.Value, axis: int, shape: tuple[Dim, ...]) -> int | str | None:
    """The size ``item`` of the sizes gives axis ``axis``: ``"same"`` (provably x's own dim), another
    number, or None (unknown at export time)."""
    size: Item | Dim = item
    if isinstance(item, tuple):
        value, index = item
        if value is x and index == axis:
            return "same"
        known = dims(value)
        size = known[index] if known is not None and index < len(known) else None
    if isinstance(size, int):
        return "same" if size == shape[axis] else size
    return None


def _output_size(node: ir.Node, x: ir.Value, shape: tuple[Dim, ...]) -> tuple[int, int] | str:
    """The static output (H, W) the sizes input fixes, or why it cannot be known from the graph."""
    items = shape_items(node.inputs[3])
    if items is None or len(items) != 4:
        return "its sizes are computed at run time from more than shapes: the output size is unknown"
    entries = [_entry(item, x, axis, shape) for axis, item in enumerate(items)]
    if entries[0] != "same" or entries[1] != "same":
        return f"its sizes do not provably keep the batch and channel dims of its input {list(shape)}"
    hw = [shape[axis] if entry == "same" else entry for axis, entry in zip((2, 3), entries[2:])]
    if not (isinstance(hw[0], int) and isinstance(hw[1], int)):
        return "its output size is computed at run time (dynamic spatial sizes): an integer scale cannot be proven"
    return hw[0], hw[1]


def _form_problem(node: ir.Node) -> str | None:
    """Why the resize's attributes rule the rewrite out, if they do."""
    form = {key: attribute(node, key, default) for key, default in _DEFAULTS.items()}
    if form != _KEPT_FORM:
        return (f"{', '.join(f'{k}={v}' for k, v in form.items() if _KEPT_FORM[k] != v)}: onnxruntime keeps only "
                f"nearest resizes with asymmetric coordinates and floor picks in its layout")
    if attribute(node, "keep_aspect_ratio_policy", "stretch") != "stretch" or attribute(node, "axes", None):
        return "keep_aspect_ratio_policy or axes is set: the sizes are not the output size"
    return None


def _scales(node: ir.Node) -> tuple[ir.Value, tuple[int, int], tuple[int, int]] | str:
    """The resize's input, its integer (H, W) scales and output (H, W), or why they do not exist."""
    x = node.inputs[0]
    shape = None if x is None else dims(x)
    if x is None or shape is None or len(shape) != 4:
        return "its input's rank is unknown or not 4"
    height, width = shape[2], shape[3]
    if not (isinstance(height, int) and isinstance(width, int)):
        return "its input's spatial size is dynamic (unknown until run time): an integer scale cannot be proven"
    out_hw = _output_size(node, x, shape)
    if isinstance(out_hw, str):
        return out_hw
    scales = [integer_scale(n, o, onnx_nearest_indices(n, o)) for n, o in zip((height, width), out_hw)]
    if scales[0] is None or scales[1] is None:
        return (f"{height}x{width} -> {out_hw[0]}x{out_hw[1]} is not an integer upsample, so constant scales "
                f"would pick other source pixels")
    return x, (scales[0], scales[1]), out_hw


def _visit(node: ir.Node) -> Outcome | None:
    if node.op_type != "Resize" or node.domain not in ("", "ai.onnx") or len(node.inputs) < 4 or (
            node.inputs[3] is None or attribute(node, "mode", "nearest") != "nearest"):
        return None  # not a nearest resize by sizes
    problem = _form_problem(node)
    found = problem if problem is not None else _scales(node)
    if isinstance(found, str):
        return LeftAsIs(found)
    x, (sh, sw), out_hw = found
    scales = constant_node(np.array([1, 1, sh, sw], dtype=np.float32))
    attributes = {key: attr.value for key, attr in node.attributes.items()}
    resize = ir.node("Resize", [x, None, scales.outputs[0]], attributes, name=node.name)
    replace_node(node, [scales, resize], resize.outputs[0])
    assert x.shape is not None  # checked 4-D by _scales
    resize.outputs[0].shape = ir.Shape([x.shape[0], x.shape[1], *out_hw])
    return Rewritten(f"scales (1, 1, {sh}, {sw})")


REWRITE = GraphRewrite(
    "integer-resize", "nearest upsample by an integer factor exported with constant scales (was sizes)",
    TARGETS, _visit)
