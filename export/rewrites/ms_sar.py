"""Inference form of a regional MS-SAR block: pool once, gate at low resolution, spread once.

:class:`recalib.blocks.ms_sar.MSSAR` (regional strategy) computes, per scale ``K``, a ``K × K``
gate and spreads it onto the map with constant matrix products, then averages the ``L``
full-size gates (Eq. 2) and multiplies. :class:`RegionalMSSARInference` computes the same
function with the block's own excitation modules, in an order that costs less at inference,
with only ops onnxruntime's CPU provider keeps in its blocked NCHWc layout wherever it can
(no MatMul at any ResNet-50 224 size):

* **Pooling** (:func:`region_pool`). Regions that are ``s``-wide windows with a shorter last
  one (``⌈i·n/K⌉ = i·s``) are one AveragePool (kernel = stride = ``s``, ``ceil_mode``, padding
  excluded). Other partitions repeat with a period of ``b = K/gcd(n, K)`` regions
  (``4, 3, 4, 3`` of 14: ``b = 2``, period 7): :func:`phase_pool` averages each of the ``b²``
  phases with one strided depthwise conv and interleaves them (one small transpose of
  ``N·K²·C`` values). Partitions with more than two phases keep the pooling matrices
  (``Pᵀ · x · Q``). When the finest scale ``K*`` divides H and W, the map is pooled once, to
  ``K* × K*``, and the coarser scales pool that small map (equal, nested regions).
* **Summing at low resolution.** Each scale's gate is copied to the ``K* × K*`` grid (nearest
  resize by ``K*/K``: with ``K | K*``, ``⌊⌊p·K*/n⌋·K/K*⌋ = ⌊p·K/n⌋``, so a position gets the
  same gate as spreading it directly) and the gates are summed there in the block's order.
* **Spreading** (:func:`spread`) by integer nearest resizes and, where the partition needs it,
  a depthwise conv that picks every ``k/g``-th position (position ``p·K/g`` of a resize by
  ``n/g`` reads ``⌊p·K/n⌋``, for every ``(n, K)``) or crops the overhang; then one Mul.
* **The mean** of Eq. (2) is applied after the product, ``(x·Σg)·(1/L)``, as a ``1 × 1``
  depthwise conv (:func:`scaled`): onnxruntime fuses the bottleneck's residual Add and ReLU
  that follow into it, which costs less than the separate Add and ReLU it replaces.

**For OpenVINO** (``target="openvino"``) the mean is a ``Mul`` by the constant ``1/L``
instead: the CPU plugin fuses the product, that ``Mul`` and the residual ``Add`` and ``Relu``
into one elementwise pass, where the depthwise conv is a second pass over the map.

Equal to the block up to float32 rounding (the pools sum in another order; ``(x·Σg)·(1/L)``
vs ``x·(Σg/L)``); spreading only copies. ``tests/export/test_optimize_ms_sar.py`` checks it at
many sizes. The sliding strategy is left as it is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from recalib.export.decompose import torch_nearest_indices
from recalib.export.rewrites import check_form
from recalib.export.rewrites.integer_resize import integer_scale
from recalib.blocks.common import check_feat_size, check_input
from recalib.blocks.ms_sar import MSSAR
from recalib.blocks.region_pooling import region_matrices
from recalib.errors import ConfigError

__all__ = ["RegionalMSSARInference", "window_stride", "phase_count", "phase_pool", "region_pool", "SpreadPlan",
           "spread_plan", "spread", "scaled", "padded_excitation", "applies"]

# Phases per axis up to which phase_pool replaces the pooling matrices (b² convs; 14x14 needs 2).
MAX_POOL_PHASES = 2


def window_stride(n: int, k: int) -> int | None:
    """``s`` if MS-SAR's ``k`` regions of ``n`` are ``s``-wide windows (the last may be shorter), else None."""
    s = -(-n // k)
    starts_match = all(-(-(i * n) // k) == i * s for i in range(k))
    return s if starts_match and s * (k - 1) < n else None


def phase_count(n: int, k: int) -> int:
    """``k / gcd(n, k)``: how many consecutive regions repeat with a period of ``n / gcd(n, k)`` positions."""
    return k // math.gcd(n, k)


def _phase_weights(n: int, k: int, phases: int, dtype: torch.dtype) -> torch.Tensor:
    """``(phases, period)``: row ``j`` averages region ``j`` of every ``period = n·phases/k`` positions.

    Region ``i`` is ``[⌈i·n/k⌉, ⌈(i+1)·n/k⌉)``; shifting ``i`` by ``phases`` shifts it by exactly
    ``period`` positions (``phases·n/k`` is an integer), so region ``q·phases + j`` is row
    ``j``'s window at stride ``period``, offset ``q·period``.
    """
    period = n * phases // k
    weights = torch.zeros(phases, period, dtype=torch.float64)
    for j in range(phases):
        start, stop = -(-(j * n) // k), -(-((j + 1) * n) // k)
        weights[j, start:stop] = 1.0 / (stop - start)
    return weights.to(dtype)


def phase_pool(x: torch.Tensor, k: int) -> torch.Tensor:
    """Average ``(N, C, H, W)`` over the ``k × k`` region partition with strided depthwise convs: ``(N, C, k, k)``.

    With ``b`` phases on both axes (:func:`phase_count`'s lcm; ``b = 2`` for ``4, 3, 4, 3`` of 14),
    each of the ``b²`` phase pairs ``(i, j)`` is one depthwise conv whose ``period``-sized kernel
    averages the ``i``-th row region and ``j``-th column region of a period, at stride
    ``period``: it yields regions ``(q·b + i, r·b + j)``. The phases are concatenated on
    channels (phase-major) and interleaved back onto the ``k × k`` grid (a depth-to-space on
    ``N·k²·C`` values). Each output is its region's exact average, summed in another order.
    """
    h, w = x.shape[-2], x.shape[-1]
    b = math.lcm(phase_count(h, k), phase_count(w, k))
    rows, cols = _phase_weights(h, k, b, x.dtype), _phase_weights(w, k, b, x.dtype)
    period = (rows.shape[1], cols.shape[1])
    channels = x.shape[1]
    parts = []
    for i in range(b):
        for j in range(b):
            kernel = torch.outer(rows[i], cols[j]).to(x.device).expand(channels, 1, *period)
            parts.append(F.conv2d(x, kernel, stride=period, groups=channels))
    phased = torch.cat(parts, dim=1)  # (N, b·b·C, k/b, k/b), channel (i·b + j)·C + c
    grid = (k // b, k // b)
    shuffled = phased.reshape(-1, b, b, channels, *grid).permute(0, 3, 4, 1, 5, 2)
    return shuffled.reshape(-1, channels, k, k)


def region_pool(x: torch.Tensor, k: int) -> torch.Tensor:
    """Average ``(N, C, H, W)`` over MS-SAR's ``k × k`` region partition: ``(N, C, k, k)``.

    A global mean for ``k = 1``; one AveragePool when the regions are windows with a shorter
    last one; else :func:`phase_pool` (``4, 3, 4, 3`` of 14) when it needs at most
    ``MAX_POOL_PHASES`` phases per axis; else the constant pooling matrices (``Pᵀ · x · Q``).
    """
    if k == 1:
        return x.mean((2, 3), keepdim=True)
    h, w = x.shape[-2], x.shape[-1]
    sh, sw = window_stride(h, k), window_stride(w, k)
    if sh is not None and sw is not None:
        return F.avg_pool2d(x, (sh, sw), stride=(sh, sw), ceil_mode=True, count_include_pad=False)
    if math.lcm(phase_count(h, k), phase_count(w, k)) <= MAX_POOL_PHASES:
        return phase_pool(x, k)
    rows, _ = region_matrices(h, k, x.dtype, x.device)  # (H, k): v @ rows averages a column
    cols, _ = region_matrices(w, k, x.dtype, x.device)
    return rows.t().contiguous() @ x @ cols


@dataclass(frozen=True)
class SpreadPlan:
    """One axis of a spread: nearest resize ``k → k·scale``, then keep positions ``p·stride`` for
    ``p < n``, the last ``crop`` dropped (a strided "valid" conv with a ``crop + 1`` kernel)."""

    scale: int
    stride: int
    crop: int


def spread_plan(n: int, k: int) -> SpreadPlan | None:
    """The cheapest exact :class:`SpreadPlan` for ``k`` regions of ``n`` positions, else None.

    Position ``p`` must get region ``⌊p·k/n⌋``. Two candidates, smallest resize first:
    resize by ``s = ⌈n/k⌉`` and crop ``k·s - n`` (exact for some sizes: ``7 = 2+2+2+1``), and,
    with ``g = gcd(n, k)``, resize by ``n/g`` and keep every ``(k/g)``-th: position
    ``p·k/g`` of the resize reads ``⌊(p·k/g)/(n/g)⌋ = ⌊p·k/n⌋``, for every ``(n, k)``.
    A candidate counts only if the resize is an integer one whose source pixels are PyTorch's
    float32 ones (:func:`recalib.export.rewrites.integer_resize.integer_scale`) and it picks the partition.
    """
    g = math.gcd(n, k)
    for plan in (SpreadPlan(-(-n // k), 1, -(-n // k) * k - n), SpreadPlan(n // g, k // g, 0)):
        grown = k * plan.scale
        if integer_scale(k, grown) is None or (grown - plan.crop - 1) // plan.stride + 1 != n:
            continue
        picked = torch_nearest_indices(k, grown)
        if all(picked[p * plan.stride] == p * k // n for p in range(n)):
            return plan
    return None


def spread(gate: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Each of ``size``'s positions gets its region's value from a ``(N, C, K, K)`` gate: ``(N, C, H, W)``.

    onnxruntime keeps only integer nearest resizes and depthwise convs in its blocked layout,
    so per :func:`spread_plan` the gate is resized by integer scales and, where a plan strides
    or crops, picked by a depthwise conv whose kernel is 1 at its origin and 0 elsewhere
    (``1·g + 0``: a copy; gates are finite). A striding axis (``4, 3, 4, 3`` of 14: grown 7×,
    every 2nd kept) is grown and picked on its own first, so the other axis grows on an
    already small map. Sizes without a plan use the block's spreading matrices.
    """
    k = gate.shape[-1]
    ph, pw = spread_plan(size[0], k), spread_plan(size[1], k)
    if ph is None or pw is None:
        _, rows = region_matrices(size[0], k, gate.dtype, gate.device)  # (k, H): g @ rows spreads
        _, cols = region_matrices(size[1], k, gate.dtype, gate.device)
        return rows.t().contiguous() @ gate @ cols
    same = SpreadPlan(1, 1, 0)
    if ph.stride > 1 and pw.scale > 1:
        gate, ph = _grow_and_pick(gate, ph, same), same
    if (ph.stride, ph.crop, pw.stride, pw.crop) == (1, 0, 1, 0):
        return F.interpolate(gate, size=size, mode="nearest")
    return _grow_and_pick(gate, ph, pw)


def _grow_and_pick(gate: torch.Tensor, ph: SpreadPlan, pw: SpreadPlan) -> torch.Tensor:
    """``(N, C, h, w)`` resized by ``(ph.scale, pw.scale)``, then every ``stride``-th position kept and
    the last ``crop`` dropped: one resize and one depthwise "valid" conv that copies."""
    channels = gate.shape[1]
    grown = F.interpolate(gate, size=(gate.shape[-2] * ph.scale, gate.shape[-1] * pw.scale), mode="nearest")
    kernel = torch.zeros(channels, 1, ph.crop + 1, pw.crop + 1, dtype=gate.dtype, device=gate.device)
    kernel[:, :, 0, 0] = 1
    return F.conv2d(grown, kernel, stride=(ph.stride, pw.stride), groups=channels)


def scaled(x: torch.Tensor, factor: float) -> torch.Tensor:
    """``factor · x`` for ``(N, C, H, W)``, as a ``1 × 1`` depthwise conv.

    onnxruntime runs it in its blocked layout (a Mul by a scalar would leave it) and fuses a
    following residual ``Add`` and ``Relu`` into it, so after a block's product it costs
    less than nothing in a ResNet bottleneck.
    """
    channels = x.shape[1]
    weight = torch.full((channels, 1, 1, 1), factor, dtype=x.dtype, device=x.device)
    return F.conv2d(x, weight, groups=channels)


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
    The block (and so its state dict keys, under ``block.``) is kept as a submodule. ``target``
    (``onnxruntime`` or ``openvino``) selects how the mean of Eq. (2) is applied.
    """

    def __init__(self, block: MSSAR, target: str = "onnxruntime") -> None:
        super().__init__()
        if block.strategy != "regional":
            raise ConfigError(f"RegionalMSSARInference needs the regional strategy, got {block.strategy!r}")
        self.block, self.target = block, check_form(target, type(self).__name__)
        self.finest = max(block.scales)
        self.excites = nn.ModuleList(padded_excitation(branch.get_submodule("excite"))
                                     for branch in block.branches.values())

    def pooled(self, source: torch.Tensor) -> dict[int, torch.Tensor]:
        """Every scale's region averages; pooled once when the finest regions tile the map evenly."""
        h, w = source.shape[-2], source.shape[-1]
        if h % self.finest or w % self.finest:
            return {k: region_pool(source, k) for k in self.block.scales}
        finest = region_pool(source, self.finest)
        return {k: finest if k == self.finest else region_pool(finest, k) for k in self.block.scales}

    def gate_sum(self, source: torch.Tensor) -> torch.Tensor:
        """The sum of every scale's gate on the ``K* × K*`` grid, in the block's order: ``(N, C, K*, K*)``."""
        pooled = self.pooled(source)
        grid = (self.finest, self.finest)
        total = None
        for k, excite in zip(self.block.scales, self.excites):
            gate = excite(pooled[k])
            if k != self.finest:
                gate = F.interpolate(gate, size=grid, mode="nearest")
            total = gate if total is None else total + gate
        assert total is not None
        return total

    def forward(self, x: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        check_input(x, self.block.channels, "ms-sar")
        if self.block.feat_size is not None:
            check_feat_size(x, self.block.feat_size, "ms-sar")
        total = self.gate_sum(self.block._context(x, source))
        product = x * spread(total, (x.shape[-2], x.shape[-1]))
        n_scales = len(self.block.scales)
        if n_scales == 1:
            return product
        return product * (1.0 / n_scales) if self.target == "openvino" else scaled(product, 1.0 / n_scales)


def applies(module: nn.Module) -> bool:
    """Whether :class:`RegionalMSSARInference` can stand in for ``module``."""
    return isinstance(module, MSSAR) and module.strategy == "regional"
