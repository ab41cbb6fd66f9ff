"""Faster kernels for the ONNX reference implementation that compute exactly what it computes.

:mod:`onnx.reference` runs ``MaxPool`` with a stride as Python loops over every output pixel of
every channel: the float64 truth of the small MNIST VGG on the 449 digits took 15 s, nearly all of
it in its two max pools. :class:`MaxPool` takes the common 2-D form (explicit pads smaller than
the kernel, no dilation, no indices output) as one windowed maximum in numpy; a maximum is exact in any
precision, so the result is the reference's bit for bit, output sizes by its rule (``ceil_mode``
included: a last window that would start in the end padding is dropped). With stride 1 the
reference takes another pooling path, which departs from the specification (it reads asymmetric
``pads`` as ``[top, bottom, left, right]`` and, in ceil mode, adds windows); there the result is
the specification's, as onnxruntime computes it. Every other form goes to the reference's own kernel.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from onnx.reference.op_run import OpRun
from onnx.reference.ops.op_max_pool import MaxPool as ReferenceMaxPool

__all__ = ["MaxPool", "FAST_OPS"]


def _common_form(x: np.ndarray, auto_pad: Any, dilations: Any, kernel_shape: Any, pads: Any, storage_order: Any,
                 outputs: int) -> bool:
    """Whether the pool is the form :class:`MaxPool` computes itself: every window then holds an input pixel."""
    return (x.ndim == 4 and len(kernel_shape) == 2 and outputs == 1 and not storage_order
            and auto_pad in (None, "NOTSET", b"NOTSET") and all(d == 1 for d in dilations or (1, 1))
            and all(p < k for p, k in zip(pads or (0, 0, 0, 0), (*kernel_shape, *kernel_shape))))


def _out_size(n: int, kernel: int, stride: int, begin: int, end: int, ceil: bool) -> int:
    """Output length along one axis, by the reference's rule."""
    span = n + begin + end - kernel
    out = (-(-span // stride) if ceil else span // stride) + 1
    return out - 1 if ceil and (out - 1) * stride >= n + begin else out


class MaxPool(ReferenceMaxPool):
    """``MaxPool`` of a ``(N, C, H, W)`` input as one windowed maximum (see the module docstring)."""

    # The reference MaxPool's own signature (the stub of its base class, CommonPool, differs).
    def _run(self, x: np.ndarray, auto_pad: Any = None, ceil_mode: Any = None,  # type: ignore[override]
             dilations: Any = None, kernel_shape: Any = None, pads: Any = None, storage_order: Any = None,
             strides: Any = None) -> tuple[np.ndarray, ...]:
        if not _common_form(x, auto_pad, dilations, kernel_shape, pads, storage_order, len(self.output)):
            return super()._run(x, auto_pad=auto_pad, ceil_mode=ceil_mode, dilations=dilations,
                                kernel_shape=kernel_shape, pads=pads, storage_order=storage_order, strides=strides)
        top, left, bottom, right = pads or (0, 0, 0, 0)
        (kh, kw), (sh, sw) = kernel_shape, strides or (1, 1)
        out_h = _out_size(x.shape[2], kh, sh, top, bottom, bool(ceil_mode))
        out_w = _out_size(x.shape[3], kw, sw, left, right, bool(ceil_mode))
        bottom = max(bottom, (out_h - 1) * sh + kh - x.shape[2] - top)  # a ceil-mode window past the end
        right = max(right, (out_w - 1) * sw + kw - x.shape[3] - left)
        padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=-np.inf)
        windows = sliding_window_view(padded, (kh, kw), axis=(2, 3))[:, :, ::sh, ::sw][:, :, :out_h, :out_w]
        return (np.ascontiguousarray(windows.max(axis=(-2, -1))),)


FAST_OPS: list[type[OpRun]] = [MaxPool]
"""The kernels to hand :class:`onnx.reference.ReferenceEvaluator` as ``new_ops``."""
