"""Float64 runs that cost what float32 runs cost: grouped convolutions as batched matrix products.

The parity truth (:mod:`recalib.export.parity`) and the folding check run the model in float64. On the
CPU, PyTorch has no fast float64 kernel for grouped or depthwise convolutions: its reference
path took 3.1 s for one 256-channel depthwise 3x3 at 56x56 (float32: 0.05 s), so the float64
truth of a GE-θ ResNet-101 or a ShuffleNet took minutes. Inside :func:`fast_float64`, such a
convolution is computed as ``unfold`` then one batched matrix product per group (0.07 s, the
same sums in another order, exact to float64 rounding); everything else runs as usual.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode

__all__ = ["fast_float64", "grouped_conv2d"]

# Above this many unfolded elements (1 GiB in float64) the native kernel's memory thrift wins.
MAX_UNFOLDED = 1 << 27


def _pair(value: Any) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def grouped_conv2d(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, stride: Any = 1,
                   padding: Any = 0, dilation: Any = 1, groups: int = 1) -> torch.Tensor | None:
    """``F.conv2d`` by unfold and a batched product per group; None where it does not apply."""
    if input.dtype != torch.float64 or groups == 1 or isinstance(padding, str) or input.dim() != 4:
        return None
    (n, _, h, w), (out_channels, per_group, kh, kw) = input.shape, weight.shape
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    out_h = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    out_w = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    if n * input.shape[1] * kh * kw * out_h * out_w > MAX_UNFOLDED:
        return None
    columns = F.unfold(input, (kh, kw), dilation=dilation, padding=padding, stride=stride)
    columns = columns.view(n, groups, per_group * kh * kw, out_h * out_w)
    kernels = weight.reshape(groups, out_channels // groups, per_group * kh * kw)
    out = torch.einsum("gok,ngkl->ngol", kernels, columns).reshape(n, out_channels, out_h, out_w)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class _GroupedConvolutions(TorchFunctionMode):
    """Routes float64 grouped ``conv2d`` calls to :func:`grouped_conv2d`."""

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is torch.conv2d:
            out = grouped_conv2d(*args, **kwargs)
            if out is not None:
                return out
        return func(*args, **kwargs)


@contextlib.contextmanager
def fast_float64() -> Iterator[None]:
    """Within the block, float64 grouped convolutions take the fast path."""
    with _GroupedConvolutions():
        yield
