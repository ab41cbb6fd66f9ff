"""Exporter translations that keep recalibration blocks inside onnxruntime's NCHWc layout.

onnxruntime's CPU provider (level ``ORT_ENABLE_ALL``) rewrites convolutions to a blocked
channel layout (NCHWc, 8 or 16 channels per block) and fuses ``Conv + Add + Relu``. A node it
cannot run in that layout forces layout conversions (``ReorderOutput``/``ReorderInput``, a
full copy of the tensor each) on every edge into and out of it, and breaks the fusion.
From ``nchwc_transformer.cc`` (onnxruntime 1.31), the ops that stay in the layout are:
Conv, MaxPool, AveragePool, GlobalAveragePool/GlobalMaxPool (when their input already is),
Relu/Sigmoid/Tanh, BatchNormalization, channel Concat, nearest ``Resize`` with constant
*integer scales* (not ``sizes``), and Add/Sum/Mul whose inputs all have the *same* shape.
So ``ReduceMean``, a broadcasting ``Mul`` (``x * gate``, gate ``(N, C, 1, 1)``) and ``Resize``
with explicit sizes each leave the layout.

The translations here emit, where it is exact:

* a spatial mean ``x.mean((2, 3), keepdim=True)`` as ``GlobalAveragePool``;
* a nearest upsample by an integer factor, whose source pixels are PyTorch's, as ``Resize``
  with constant scales instead of sizes (a low-resolution gate, GE-θ⁻'s, then stays in the
  layout and its ``Mul`` has two equal shapes).

The resize output gets its shape (with the symbolic batch) written on it: the layout pass
only runs ``Mul`` in NCHWc when it can prove both shapes equal, and ONNX shape inference
loses the symbolic batch through ``Resize``. Everything else goes to the default
translations (torchlib's, or :mod:`recalib.export.decompose`'s).

A ``(N, C, 1, 1)`` gate (SE, global GE) is left as a broadcasting ``Mul``, layout copies and
all. Expanding it by a ``Resize(scales=[1, 1, H, W])`` removed the copies (67 -> 1 in SE-ResNet-50)
but measured slower: onnxruntime runs the blocked ``Upsample`` on one thread, and the copies it
saves run on all of them (ResNet-50 + SE at 224, 2 threads, same run: +20.6/+21.8% expanded vs
+18.7/+20.9% broadcast at batch 1, +24.7% vs +21.4% at batch 8).
"""
from __future__ import annotations

import contextlib
import contextvars
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from onnxscript import ir
from onnxscript import opset18 as op
from onnxscript.function_libs.torch_lib.ops import core

from recalib.export import decompose
from recalib.export.decompose import torch_nearest_indices

__all__ = ["integer_scale", "translation_table", "recording", "REWRITES"]

Traced = Any  # the exporter's symbolic tensors (onnx_ir values with static shapes where known)

REWRITES = {
    "global-average-pool": "spatial mean over (H, W) exported as GlobalAveragePool (was ReduceMean)",
    "integer-resize": "nearest upsample by an integer factor exported with constant scales (was sizes)",
}


_FIRED: contextvars.ContextVar[Counter | None] = contextvars.ContextVar("layout_rewrites", default=None)


@contextlib.contextmanager
def recording() -> Iterator[Counter]:
    """Count the rewrites (by :data:`REWRITES` name) that fire inside the ``with`` block."""
    fired: Counter = Counter()
    token = _FIRED.set(fired)
    try:
        yield fired
    finally:
        _FIRED.reset(token)


def _note(name: str) -> None:
    fired = _FIRED.get()
    if fired is not None:
        fired[name] += 1


def integer_scale(n_in: int, n_out: int) -> int | None:
    """``n_out / n_in`` if it is an integer and ONNX's ``floor(i / s)`` picks PyTorch's source pixels."""
    if n_in < 1 or n_out % n_in:
        return None
    scale = n_out // n_in
    return scale if torch_nearest_indices(n_in, n_out) == [i // scale for i in range(n_out)] else None


def _shape(x: Traced) -> tuple[Any, ...] | None:
    shape = getattr(x, "shape", None)
    return None if shape is None else tuple(shape)


def _static(dims: Sequence[Any]) -> bool:
    return all(isinstance(d, int) for d in dims)


def _resize(x: Traced, scales: tuple[int, int], out_hw: tuple[int, int]) -> Traced:
    """Nearest ``Resize`` of ``(N, C, h, w)`` by integer ``scales``, its output shape declared."""
    constant: Any = ir.tensor(np.array([1, 1, *scales], dtype=np.float32))
    scales_value: Any = op.Constant(value=constant)
    resized = op.Resize(x, None, scales_value, mode="nearest",
                        coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    # ONNX inference would call the batch "unk__0"; the NCHWc Mul needs it equal to x's.
    resized.shape = ir.Shape([x.shape[0], x.shape[1], *out_hw])
    resized.dtype = x.dtype
    return resized


def _mean_dim(self: Traced, dim: Sequence[int] | None = None, keepdim: bool = False,
              dtype: torch.dtype | None = None) -> Traced:
    """``aten.mean.dim``: GlobalAveragePool for a kept-dims spatial mean of a 4-D tensor."""
    shape = _shape(self)
    if (shape is not None and len(shape) == 4 and dim is not None and keepdim and dtype is None
            and sorted(d % 4 for d in dim) == [2, 3]):
        _note("global-average-pool")
        return op.GlobalAveragePool(self)
    return core.aten_mean_dim(self, dim, keepdim)


def _upsample_vec(input: Traced, output_size: Sequence[int] | None = None,
                  scale_factors: Sequence[float] | None = None) -> Traced:
    """``aten.upsample_nearest2d.vec``: constant integer scales when exact, else the default."""
    shape = _shape(input)
    if output_size is not None and shape is not None and _static(shape[2:]):
        out_hw = (int(output_size[0]), int(output_size[1]))
        scales = (integer_scale(int(shape[2]), out_hw[0]), integer_scale(int(shape[3]), out_hw[1]))
        if scales[0] is not None and scales[1] is not None:
            _note("integer-resize")
            return _resize(input, (scales[0], scales[1]), out_hw)
    default = decompose.translation_table()[torch.ops.aten.upsample_nearest2d.vec]
    return default(input, output_size, scale_factors)


def translation_table() -> dict[Callable, Callable]:
    """The aten overloads translated here, to merge over :func:`recalib.export.decompose.translation_table`."""
    aten = torch.ops.aten
    return {aten.mean.dim: _mean_dim, aten.upsample_nearest2d.vec: _upsample_vec}
