"""Exact rewrites of the ops that ONNX runtimes handle badly, as exporter translations.

Adaptive average pooling whose output does not divide the input is exported by torch as a
Gather/GatherND/Transpose sprawl. With static spatial dims it is exactly a product with two
constant pooling matrices, ``P_h @ x @ P_w^T`` (two MatMuls), which every runtime runs well.

Nearest upsampling is exported with explicit ``sizes`` (never ``scales``). Where ONNX's
``sizes`` index rule (``floor(dst * in / out)``) would pick other source pixels than PyTorch's
(``floor(dst / scale_factor)`` for a user-given non-integer scale), the resize becomes two
Gathers with constant PyTorch indices instead, so the graph is exact by construction.

Both are registered through ``torch.onnx.export(custom_translation_table=...)``: ops in that
table are kept out of torch's own decomposition and translated by the functions here, which
the exporter calls in trace mode with symbolic tensors whose static shape is known.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from onnxscript import ir
from onnxscript import opset18 as op

from recalib.errors import ExportError

# The exporter calls translations with symbolic tensors of its tracer (static shapes known).
Traced = Any

__all__ = ["pooling_matrix", "torch_nearest_indices",
           "onnx_nearest_indices", "translation_table"]


def pooling_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """``(n_out, n_in)`` matrix whose row ``i`` averages PyTorch's adaptive bin ``i``.

    Bin ``i`` spans ``[floor(i*n_in/n_out), ceil((i+1)*n_in/n_out))``, PyTorch's rule; bins may
    overlap when ``n_out`` does not divide ``n_in``. Weights are computed in float64, then cast.
    """
    if n_in < 1 or n_out < 1:
        raise ExportError(f"adaptive pooling needs positive sizes, got {n_in} -> {n_out}")
    m = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return m.to(torch.float32)


def torch_nearest_indices(n_in: int, n_out: int, scale: float | None = None) -> list[int]:
    """Source index of every output pixel under PyTorch's ``mode="nearest"`` (CPU kernel rule).

    PyTorch uses ``1/scale`` when the caller gave a scale factor, else ``n_in/n_out``, in float32.
    """
    if n_out == n_in:
        return list(range(n_out))
    if n_out == 2 * n_in:
        return [i >> 1 for i in range(n_out)]
    step = np.float32(1.0 / scale) if scale else np.float32(n_in) / np.float32(n_out)
    return [min(int(np.floor(np.float32(i) * step)), n_in - 1) for i in range(n_out)]


def onnx_nearest_indices(n_in: int, n_out: int) -> list[int]:
    """Source index under ONNX ``Resize`` (nearest, asymmetric, floor) given explicit sizes."""
    scale = np.float32(n_out) / np.float32(n_in)
    return [min(int(np.floor(np.float32(i) / scale)), n_in - 1) for i in range(n_out)]


def _static_hw(x: Traced, what: str) -> tuple[int, int]:
    """The static (H, W) of a traced tensor; dynamic spatial dims cannot be decomposed exactly."""
    dims = tuple(x.shape)[-2:]
    if not all(isinstance(d, int) for d in dims):
        raise ExportError(f"{what} needs static spatial dims to export exactly, got {dims}; "
                          f"export with a fixed input size (only the batch may be dynamic)")
    return dims


def _const(array: np.ndarray) -> Traced:
    tensor: Any = ir.tensor(np.ascontiguousarray(array))  # the tracer takes IR tensors, stubs say TensorProto
    return op.Constant(value=tensor)


def _adaptive_avg_pool2d(self: Traced, output_size: Sequence[int]) -> Traced:
    """``aten._adaptive_avg_pool2d``: AveragePool when bins tile the input, else two MatMuls."""
    h, w = _static_hw(self, "adaptive average pooling")
    kh, kw = (int(k) for k in output_size)
    if h % kh == 0 and w % kw == 0:
        kernel = [h // kh, w // kw]
        return op.AveragePool(self, kernel_shape=kernel, strides=kernel)
    ph = pooling_matrix(h, kh).numpy()
    pwt = pooling_matrix(w, kw).numpy().T
    return op.MatMul(op.MatMul(_const(ph), self), _const(pwt))


def _resize_nearest(x: Traced, out_hw: tuple[int, int], scales: Sequence[float | None]) -> Traced:
    """Nearest resize to static ``out_hw`` with explicit sizes, or constant Gathers where exactness needs them."""
    h, w = _static_hw(x, "nearest upsampling")
    want = [torch_nearest_indices(n, o, s) for n, o, s in zip((h, w), out_hw, scales)]
    if want == [onnx_nearest_indices(h, out_hw[0]), onnx_nearest_indices(w, out_hw[1])]:
        batch_channels = op.Shape(x, start=0, end=2)
        sizes = op.Concat(batch_channels, _const(np.array(out_hw, dtype=np.int64)), axis=0)
        return op.Resize(x, None, None, sizes, mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    rows = op.Gather(x, _const(np.array(want[0], dtype=np.int64)), axis=2)
    return op.Gather(rows, _const(np.array(want[1], dtype=np.int64)), axis=3)


def _output_hw(x: Traced, output_size: Sequence[int] | None,
               scales: Sequence[float | None]) -> tuple[int, int]:
    if output_size is not None:
        return int(output_size[0]), int(output_size[1])
    h, w = _static_hw(x, "nearest upsampling")
    return int(np.floor(h * scales[0])), int(np.floor(w * scales[1]))  # type: ignore[operator]


def _upsample_nearest2d_vec(input: Traced, output_size: Sequence[int] | None = None,
                            scale_factors: Sequence[float] | None = None) -> Traced:
    """``aten.upsample_nearest2d.vec`` (what ``F.interpolate(mode="nearest")`` records)."""
    scales = list(scale_factors) if scale_factors is not None else [None, None]
    return _resize_nearest(input, _output_hw(input, output_size, scales), scales)


def _upsample_nearest2d(self: Traced, output_size: Sequence[int], scales_h: float | None = None,
                        scales_w: float | None = None) -> Traced:
    """``aten.upsample_nearest2d.default``."""
    scales = [scales_h, scales_w]
    return _resize_nearest(self, _output_hw(self, output_size, scales), scales)


def translation_table() -> dict[Callable, Callable]:
    """The aten overloads this module translates, for ``custom_translation_table``."""
    aten = torch.ops.aten
    return {aten._adaptive_avg_pool2d.default: _adaptive_avg_pool2d,
            aten.upsample_nearest2d.vec: _upsample_nearest2d_vec,
            aten.upsample_nearest2d.default: _upsample_nearest2d}
