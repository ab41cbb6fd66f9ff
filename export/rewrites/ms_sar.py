"""Inference form of a regional MS-SAR block: pool once, gate at low resolution, spread once.

:class:`recalib.blocks.ms_sar.MSSAR` (regional strategy) computes, per scale ``K``, a ``K × K``
gate and spreads it onto the map with constant matrix products, then averages the ``L``
full-size gates (Eq. 2) and multiplies. :class:`RegionalMSSARInference` computes the same
function with the block's own excitation modules, in an order that costs less at inference:

* **Pooling.** A ``K × K`` region partition whose regions are ``s`` wide except a shorter last
  one (``⌈i·n/K⌉ = i·s`` for every region start) is an average pool with kernel = stride = ``s``,
  ``ceil_mode`` and padding excluded (one AveragePool node); any other partition keeps the
  constant pooling matrices, applied as ``Pᵀ · x · Q`` (two MatMuls, no transposes). When the
  finest scale ``K*`` divides H and W, all regions of every scale have equal sizes and nest,
  so the map is pooled once, to ``K* × K*``, and the coarser scales pool that small map.
* **Averaging at low resolution.** Each scale's gate is copied to the ``K* × K*`` grid (nearest
  resize by ``K*/K``: with ``K | K*``, ``⌊⌊p·K*/n⌋·K/K*⌋ = ⌊p·K/n⌋``, so a position gets the
  same gate as spreading it directly), the gates are summed there in the block's order and
  divided by ``L``; then one spreading (:func:`spread`) puts the mean on ``(H, W)`` and one Mul
  applies it.
  The division is a ``1 × 1`` depthwise convolution with weight ``1/L``: onnxruntime runs it in
  its blocked layout, where a ``Div`` would take the gate, and then the map, out of it.

Equal to the block up to float32 rounding (the pools sum in another order; ``g·(1/L)`` vs
``g/L``); ``tests/export/test_optimize_ms_sar.py`` checks it at many sizes. The sliding strategy
is left as it is.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from export.decompose import torch_nearest_indices
from recalib.blocks._common import check_feat_size, check_input
from recalib.blocks.ms_sar import MSSAR
from recalib.blocks.region_pooling import region_matrices
from recalib.errors import ConfigError

__all__ = ["RegionalMSSARInference", "window_stride", "region_pool", "spread", "padded_excitation", "applies"]


def window_stride(n: int, k: int) -> int | None:
    """``s`` if MS-SAR's ``k`` regions of ``n`` are ``s``-wide windows (the last may be shorter), else None."""
    s = -(-n // k)
    starts_match = all(-(-(i * n) // k) == i * s for i in range(k))
    return s if starts_match and s * (k - 1) < n else None


def region_pool(x: torch.Tensor, k: int) -> torch.Tensor:
    """Average ``(N, C, H, W)`` over MS-SAR's ``k × k`` region partition: ``(N, C, k, k)``."""
    if k == 1:
        return x.mean((2, 3), keepdim=True)
    h, w = x.shape[-2], x.shape[-1]
    sh, sw = window_stride(h, k), window_stride(w, k)
    if sh is not None and sw is not None:
        return F.avg_pool2d(x, (sh, sw), stride=(sh, sw), ceil_mode=True, count_include_pad=False)
    rows, _ = region_matrices(h, k, x.dtype, x.device)  # (H, k): v @ rows averages a column
    cols, _ = region_matrices(w, k, x.dtype, x.device)
    return rows.t().contiguous() @ x @ cols


def _spread_plan(n: int, k: int) -> tuple[int, int] | None:
    """``(grow, crop)``: spreading ``k`` regions onto ``n`` positions as an integer resize to ``grow``
    and dropping the last ``crop`` positions, if that is the partition exactly (PyTorch's
    float32 resize indices included), else None."""
    s = -(-n // k)
    for grow in (n, k * s):
        picked = torch_nearest_indices(k, grow)
        if grow % k == 0 and grow >= n and all(picked[p] == p * k // n for p in range(n)):
            return grow, grow - n
    return None


def spread(gate: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Each of ``size``'s positions gets its region's value from a ``(N, C, K, K)`` gate (a nearest resize).

    onnxruntime keeps a nearest resize in its blocked layout only for integer scales. Where the
    regions are ``s``-wide windows with a shorter last one (``7 = 2 + 2 + 2 + 1``), the gate is
    resized by ``s`` and the overhang dropped by a depthwise "valid" convolution whose kernel is
    1 at its origin and 0 elsewhere (it only copies: gates are finite). Other sizes (regions
    ``4, 3, 4, 3`` of 14) use the block's own spreading matrices.
    """
    k = gate.shape[-1]
    plan_h, plan_w = _spread_plan(size[0], k), _spread_plan(size[1], k)
    if plan_h is None or plan_w is None:
        _, rows = region_matrices(size[0], k, gate.dtype, gate.device)  # (k, H): g @ rows spreads
        _, cols = region_matrices(size[1], k, gate.dtype, gate.device)
        return rows.t().contiguous() @ gate @ cols
    (grow_h, crop_h), (grow_w, crop_w) = plan_h, plan_w
    out = F.interpolate(gate, size=(grow_h, grow_w), mode="nearest")
    if crop_h or crop_w:
        kernel = torch.zeros(gate.shape[1], 1, crop_h + 1, crop_w + 1, dtype=gate.dtype, device=gate.device)
        kernel[:, :, 0, 0] = 1
        out = F.conv2d(out, kernel, groups=gate.shape[1])
    return out


def padded_excitation(excite: nn.Module, multiple: int = 16) -> nn.Module:
    """``excite`` with its hidden width zero-padded to a multiple of ``multiple``, once BN is folded.

    onnxruntime's blocked layout needs conv input channels in multiples of its block (8 or
    16); MS-SAR's hidden width ``⌊C/(r·L)⌋`` (113 for C = 1024) is not, so the second 1×1 conv
    would leave the layout. Extra hidden channels with zero weights and bias output 0, pass
    ReLU as 0 and add ``0·0`` to the result: the function is unchanged. An excitation that
    still has its BNs (``fold=False``) is returned as it is.
    """
    parts = dict(excite.named_children())
    first, second = parts.get("omega1"), parts.get("omega2")
    folded = all(isinstance(parts.get(n), nn.Identity) for n in ("bn1", "bn2"))
    if not (isinstance(first, nn.Conv2d) and isinstance(second, nn.Conv2d) and folded):
        return excite
    bias1, bias2 = first.bias, second.bias
    extra = -first.out_channels % multiple
    if bias1 is None or bias2 is None or extra == 0:
        return excite
    with torch.no_grad():
        grown_first = _conv(F.pad(first.weight, (0, 0, 0, 0, 0, 0, 0, extra)), F.pad(bias1, (0, extra)))
        grown_second = _conv(F.pad(second.weight, (0, 0, 0, 0, 0, extra)), bias2.clone())
    return nn.Sequential(grown_first, nn.ReLU(), grown_second, nn.Sigmoid())


def _conv(weight: torch.Tensor, bias: torch.Tensor) -> nn.Conv2d:
    """A 1×1 ``Conv2d`` holding ``weight`` ``(out, in, 1, 1)`` and ``bias``."""
    conv = nn.Conv2d(weight.shape[1], weight.shape[0], 1, dtype=weight.dtype, device=weight.device)
    conv.weight, conv.bias = nn.Parameter(weight), nn.Parameter(bias)
    return conv


class RegionalMSSARInference(nn.Module):
    """``block`` (a regional :class:`MSSAR`) computed by pooling once and gating at low resolution.

    Shapes as the block: ``x`` ``(N, C, H, W)``, optional ``source`` ``(N, S, H, W)`` → ``(N, C, H, W)``.
    The block (and so its state dict keys, under ``block.``) is kept as a submodule.
    """

    mean_weight: torch.Tensor

    def __init__(self, block: MSSAR) -> None:
        super().__init__()
        if block.strategy != "regional":
            raise ConfigError(f"RegionalMSSARInference needs the regional strategy, got {block.strategy!r}")
        self.block = block
        self.finest = max(block.scales)
        self.excites = nn.ModuleList(padded_excitation(branch.get_submodule("excite"))
                                     for branch in block.branches.values())
        dtype = next(block.parameters()).dtype
        weight = torch.full((block.channels, 1, 1, 1), 1.0 / len(block.scales), dtype=dtype)
        self.register_buffer("mean_weight", weight, persistent=False)

    def pooled(self, source: torch.Tensor) -> dict[int, torch.Tensor]:
        """Every scale's region averages; pooled once when the finest regions tile the map evenly."""
        h, w = source.shape[-2], source.shape[-1]
        if h % self.finest or w % self.finest:
            return {k: region_pool(source, k) for k in self.block.scales}
        finest = region_pool(source, self.finest)
        return {k: finest if k == self.finest else region_pool(finest, k) for k in self.block.scales}

    def gate(self, source: torch.Tensor) -> torch.Tensor:
        """Eq. (2)'s mean gate on the ``K* × K*`` grid, ``(N, C, K*, K*)``."""
        pooled = self.pooled(source)
        grid = (self.finest, self.finest)
        total = None
        for k, excite in zip(self.block.scales, self.excites):
            gate = excite(pooled[k])
            if k != self.finest:
                gate = F.interpolate(gate, size=grid, mode="nearest")
            total = gate if total is None else total + gate
        assert total is not None
        if len(self.block.scales) == 1:
            return total
        return F.conv2d(total, self.mean_weight.to(total.dtype), groups=self.block.channels)

    def forward(self, x: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        check_input(x, self.block.channels, "ms-sar")
        if self.block.feat_size is not None:
            check_feat_size(x, self.block.feat_size, "ms-sar")
        gate = self.gate(self.block._context(x, source))
        return x * spread(gate, (x.shape[-2], x.shape[-1]))


def applies(module: nn.Module) -> bool:
    """Whether :class:`RegionalMSSARInference` can stand in for ``module``."""
    return isinstance(module, MSSAR) and module.strategy == "regional"
