"""fvcore op handles that leave nothing out.

fvcore's :class:`~fvcore.nn.FlopCountAnalysis` walks a ``torch.jit`` trace and asks one handle
per operator kind for a count; operators without a handle are either "ignored" (a fixed list
that includes real work such as ``aten::relu`` and ``aten::cat``) or reported by
``unsupported_ops()``. Its defaults count convolutions and matrix products but skip the ops
recalibration blocks are made of (``mean``, ``sigmoid``, ``mul``, ``avg_pool2d`` …).

Every handle here returns a ``Counter`` keyed by *category*, never by operator, so that one
trace can be re-weighted under any counting convention (:mod:`recalib.profiling.counting.conventions`):

=========  =====================================================================
category   unit
=========  =====================================================================
conv       multiply-adds of convolutions (grouped/depthwise included; bias adds not)
fc         multiply-adds of linear layers and matrix products of learned or data tensors
fixed      multiply-adds of matrix products with a fixed matrix (pooling/resizing as ``x @ A``)
bn         elements normalised by batch norm (one multiply-add each at inference)
norm       elements normalised by group/layer/instance norm
pool       elements read by pooling windows and reductions (``mean``, ``sum``, ``amax`` …)
act        output elements of non-linear element-wise functions (ReLU, sigmoid, tanh, sin …)
eltwise    output elements of arithmetic (add, sub, mul, div …)
resize     interpolation taps (bilinear: 4 per output element)
move       elements copied without arithmetic (cat, nearest resize, pad, repeat …)
=========  =====================================================================

Ops that only reshape, view or create constants are listed in :data:`FREE_OPS` and are
explicitly ignored; anything else surfaces in ``unsupported_ops()``, which the test suite
requires to be empty for every library model.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from fvcore.nn.jit_handles import conv_flop_jit, einsum_flop_jit, get_shape

__all__ = ["CATEGORIES", "HANDLES", "FREE_OPS", "Handle", "make_handles"]

Handle = Callable[[list[Any], list[Any]], Counter]

CATEGORIES = ("conv", "fc", "fixed", "bn", "norm", "pool", "act", "eltwise", "resize", "move")


def _numel(value: Any) -> int:
    """Elements of a traced tensor value; 0 for scalars and non-tensors (shape arithmetic)."""
    shape = get_shape(value)
    return math.prod(shape) if shape is not None else 0


def _per_output(category: str, taps: int = 1) -> Handle:
    """A handle counting ``taps`` units of ``category`` per output element."""
    def handle(inputs: list[Any], outputs: list[Any]) -> Counter:
        return Counter({category: taps * _numel(outputs[0])})
    return handle


def _per_input(category: str) -> Handle:
    """A handle counting one unit of ``category`` per element of the first input."""
    def handle(inputs: list[Any], outputs: list[Any]) -> Counter:
        return Counter({category: _numel(inputs[0])})
    return handle


def _conv(inputs: list[Any], outputs: list[Any]) -> Counter:
    return conv_flop_jit(inputs, outputs)


def _linear(inputs: list[Any], outputs: list[Any]) -> Counter:
    """``aten::linear(x, W, b)``: every output element is a dot product of length ``in_features``."""
    weight = get_shape(inputs[1])
    return Counter({"fc": _numel(outputs[0]) * weight[-1]})


def _addmm(inputs: list[Any], outputs: list[Any]) -> Counter:
    """``aten::addmm(bias, a, b)``: ``m × k × n`` multiply-adds."""
    m, k = get_shape(inputs[1])
    return Counter({"fc": m * k * get_shape(inputs[2])[-1]})


#: Producers whose outputs depend on no data and no parameter (shape reads count as static).
_STATIC_LEAVES = {"prim::Constant", "aten::size"}


def _is_fixed(value: Any, data_inputs: int, depth: int = 16) -> bool:
    """Whether ``value`` is computed from constants and buffers only: no input data, no parameter.

    In fvcore's trace the model inputs are the first ``data_inputs`` graph inputs, followed by
    the parameters (``requires_grad``) and persistent buffers; non-persistent buffers are
    constants. The search is bounded (a deep chain is conservatively treated as data).
    """
    node = value.node()
    if node.kind() == "prim::Param":
        return value.offset() >= data_inputs and not value.requires_grad()
    if node.kind() in _STATIC_LEAVES:
        return True
    return depth > 0 and all(_is_fixed(item, data_inputs, depth - 1) for item in node.inputs())


def _matmul(data_inputs: int) -> Handle:
    """matmul/mm/bmm with broadcasting: each output element is a dot product of length ``k``.

    A product with a fixed matrix (pooling, spreading or resizing written as ``x @ A``) is
    counted as ``fixed``, so conventions can tell it from learned layers.
    """
    def handle(inputs: list[Any], outputs: list[Any]) -> Counter:
        k = get_shape(inputs[0])[-1]
        fixed = any(_is_fixed(v, data_inputs) for v in inputs[:2])
        return Counter({"fixed" if fixed else "fc": _numel(outputs[0]) * k})
    return handle


def _einsum(inputs: list[Any], outputs: list[Any]) -> Counter:
    return Counter({"fc": int(einsum_flop_jit(inputs, outputs))})


def _window_total(length: int, out: int, kernel: int, stride: int, padding: int,
                  dilation: int = 1) -> int:
    """Input cells (padding excluded) covered by all ``out`` windows along one axis."""
    total = 0
    for i in range(out):
        start = i * stride - padding
        taps = range(start, start + (kernel - 1) * dilation + 1, dilation)
        total += sum(1 for t in taps if 0 <= t < length)
    return total


def _ints(value: Any) -> list[int]:
    """A traced int-list argument: a constant, or a ``prim::ListConstruct`` of constants."""
    constant = value.toIValue()
    if constant is not None:
        return list(constant) if isinstance(constant, (list, tuple)) else [constant]
    return [int(item.toIValue()) for item in value.node().inputs()]


def _pair(value: Any, default: tuple[int, int] | None = None) -> tuple[int, int]:
    """An ``(h, w)`` pool argument; an empty list (PyTorch's "stride = kernel") gives ``default``."""
    values = _ints(value)
    if not values and default is not None:
        return default
    return (values[0], values[0]) if len(values) == 1 else (values[0], values[1])


def _pool2d(inputs: list[Any], outputs: list[Any]) -> Counter:
    """avg/max_pool2d: exact cells read, padding excluded (kernel, stride, padding[, dilation])."""
    x, y = get_shape(inputs[0]), get_shape(outputs[0])
    kernel = _pair(inputs[1])
    stride = _pair(inputs[2], default=kernel)
    padding = _pair(inputs[3])
    # max_pool2d has a dilation list here; avg_pool2d has its ceil_mode flag.
    dilation = _pair(inputs[4]) if inputs[4].type().kind() == "ListType" else (1, 1)
    rows = _window_total(x[-2], y[-2], kernel[0], stride[0], padding[0], dilation[0])
    cols = _window_total(x[-1], y[-1], kernel[1], stride[1], padding[1], dilation[1])
    return Counter({"pool": math.prod(x[:-2]) * rows * cols})


def _adaptive_axis(length: int, out: int) -> int:
    """Cells read along one axis by adaptive pooling (PyTorch's floor/ceil window bounds)."""
    return sum(math.ceil((i + 1) * length / out) - (i * length) // out for i in range(out))


def _adaptive_pool2d(inputs: list[Any], outputs: list[Any]) -> Counter:
    """adaptive_avg/max_pool2d: windows overlap when the output does not divide the input."""
    x, y = get_shape(inputs[0]), get_shape(outputs[0])
    cells = _adaptive_axis(x[-2], y[-2]) * _adaptive_axis(x[-1], y[-1])
    return Counter({"pool": math.prod(x[:-2]) * cells})


def _resize(inputs: list[Any], outputs: list[Any]) -> Counter:
    """Bilinear interpolation: four weighted taps per output element."""
    return Counter({"resize": 4 * _numel(outputs[0])})


def _cat(inputs: list[Any], outputs: list[Any]) -> Counter:
    return Counter({"move": _numel(outputs[0])})


def _variants(names: Iterable[str], handle: Handle) -> dict[str, Handle]:
    """``aten::name`` and its in-place ``aten::name_`` mapped to ``handle``."""
    table: dict[str, Handle] = {}
    for name in names:
        table[f"aten::{name}"] = handle
        table[f"aten::{name}_"] = handle
    return table


_ACT = ("relu", "relu6", "sigmoid", "tanh", "hardsigmoid", "hardswish", "hardtanh", "silu",
        "gelu", "elu", "leaky_relu", "softplus", "exp", "log", "sin", "cos", "sqrt", "rsqrt",
        "reciprocal", "abs", "sign", "clamp", "clamp_min", "clamp_max", "softmax", "log_softmax",
        "floor", "ceil", "round")
_ELTWISE = ("add", "sub", "rsub", "mul", "div", "neg", "pow", "square", "addcmul", "lerp",
            "where", "maximum", "minimum", "eq", "ne", "gt", "ge", "lt", "le")
_REDUCE = ("mean", "sum", "amax", "amin", "max", "min", "prod", "std", "var", "norm")
_MOVE = ("repeat", "repeat_interleave", "constant_pad_nd", "pad", "reflection_pad2d",
         "replicate_pad2d", "upsample_nearest2d", "upsample_nearest1d", "pixel_shuffle",
         "pixel_unshuffle", "channel_shuffle", "roll", "flip", "clone", "contiguous", "copy",
         "index_select", "gather", "expand_copy", "tile")

#: Ops that only view, reshape or create constants: nothing to count, nothing hidden.
FREE_OPS = tuple(f"aten::{name}" for name in (
    "size", "Int", "Float", "ScalarImplicit", "view", "reshape", "flatten", "unflatten",
    "squeeze", "unsqueeze", "unsqueeze_", "permute", "transpose", "t", "expand", "expand_as",
    "select", "slice", "narrow", "chunk", "split", "split_with_sizes", "unbind", "detach",
    "dropout", "dropout_", "feature_dropout", "alpha_dropout", "to", "type_as", "zeros",
    "zeros_like", "ones", "ones_like", "empty", "empty_like", "full", "full_like", "arange",
    "linspace", "new_zeros", "new_ones", "new_empty", "new_full", "numel", "dim", "tensor",
    "scalar_tensor", "lift_fresh", "alias", "view_as", "reshape_as", "movedim",
    "floor_divide", "remainder", "__and__", "__or__", "bitwise_not", "is_floating_point"))

_HANDLES: dict[str, Handle] = {
    "aten::_convolution": _conv,
    "aten::linear": _linear,
    "aten::addmm": _addmm,
    "aten::einsum": _einsum,
    "aten::batch_norm": _per_input("bn"),
    "aten::group_norm": _per_input("norm"),
    "aten::layer_norm": _per_input("norm"),
    "aten::instance_norm": _per_input("norm"),
    "aten::avg_pool2d": _pool2d,
    "aten::max_pool2d": _pool2d,
    "aten::adaptive_avg_pool2d": _adaptive_pool2d,
    "aten::adaptive_max_pool2d": _adaptive_pool2d,
    "aten::upsample_bilinear2d": _resize,
    "aten::cat": _cat,
    "aten::stack": _cat,
    **_variants(_ACT, _per_output("act")),
    **_variants(_ELTWISE, _per_output("eltwise")),
    **_variants(_REDUCE, _per_input("pool")),
    **_variants(_MOVE, _per_output("move")),
}


def make_handles(data_inputs: int = 1) -> dict[str, Handle]:
    """Every handle, for a model called with ``data_inputs`` tensors (matrix products need it)."""
    product = _matmul(data_inputs)
    return {**_HANDLES, "aten::matmul": product, "aten::mm": product, "aten::bmm": product}


#: The handles for the usual single-input model.
HANDLES: dict[str, Handle] = make_handles()
