"""Inference form of an input-dependent CC-block: static picks, batched products, one map.

:class:`recalib.blocks.contextual.ContextualConv` nearest-downsamples ``x`` to its context grid
(a ``Resize`` whose sizes come from ``Shape`` at run time), runs the per-channel grid layer as
a ``groups=C`` convolution with one input channel per group (a slow grouped kernel on
onnxruntime's CPU provider), squashes, and renders the map with broadcasting elementwise ops
on many small tensors. :class:`ContextualConvInference` computes the same function with:

* **Static picks.** The feature size is static at export, so the grid is ``x``'s rows and
  columns at PyTorch's nearest indices (``⌊i·H/gh⌋`` in float32, :func:`torch_nearest_indices`):
  one strided ``Slice`` when the picks are evenly spaced (56 → 11 takes every 5th), else one
  ``Gather`` per axis. Exact: it selects the very elements the resize copies.
* **The grid layer as depthwise convolutions.** A ``groups=C`` convolution ``C → k·C`` whose
  kernel covers the grid is, per output ``j``, a depthwise convolution (``groups = C``, one
  output per group) with the kernels ``weight[c·k + j]``: onnxruntime runs those in its blocked
  layout, the grouped ``C → k·C`` one in a slow generic kernel. Concatenated output-major and
  transposed to ``(N, C, 1, k)``. Where the column picks are uneven (28 → 11) the rows are
  picked and the columns weighted 0 instead (onnxruntime gathers the last axis element by
  element). Later layers (CH's second layer, MIX) run as the block's own modules; a dense
  first layer (MIX without CH) is not rewritten.
* **A bilinear EMP as constant bases.** With ``P = s·tanh(z) + o`` (``s, o = ½, 1`` in the
  paper's range, ``1, 0`` in {−1…1}) and eq. 2's profile ``a(1 - u) + b·u``, ``(1 - u) + u = 1``
  gives ``P[0:2] @ B = tanh(z)[0:2] @ (s·B) + o`` for the ``(2, W)`` basis ``B = [1 - u; u]``
  (halving is exact): one ``(N·C, k) @ (k, W)`` GEMM per axis. A ``+ 1`` rides along as a fifth
  coefficient with weight 0 and bias 30, which ``tanh`` turns into exactly 1 (float32 and
  float64; onnxruntime's from 9 on). Gaussian and sine profiles keep the block's elementwise
  formulas and coordinates (:func:`recalib.blocks.emp.coordinates`), on the small profiles.
* **The map as one product.** ``map = along_h (N, C, H, 1) @ along_w (N, C, 1, W)`` is a
  ``K = 1`` MatMul: every element is the single product the block's broadcast ``Mul`` forms,
  and onnxruntime's batched GEMM writes it faster than a broadcast along rows of 14 or more
  (:data:`MATMUL_MAP_MIN_WIDTH`); narrower maps keep the broadcast ``Mul``. Then one
  same-shape ``x * map``.

**For OpenVINO** (``target="openvino"``; measured on ResNet-50 + cc-reduced at 224 with its
executed graph, :mod:`recalib.deploy.backends.openvino_graph`) the forms differ where the CPU plugin,
which runs the net channels-last and fuses elementwise chains, prefers others:

* the map is never materialised: ``x * along_h * along_w`` is one fused elementwise layer
  with the profiles' formula and the residual ``Add`` and ``Relu``. The K = 1 MatMul wrote the
  map in the planar layout and needed a full-size reorder before the product (stage 1: MatMul
  0.12 ms, reorder 0.29 ms, product 0.14 ms per block), and the bilinear bases ran as
  ``FullyConnected`` layers costing more than the formula's few tiny elementwise ops;
* each coefficient stays a ``(N, C, 1, 1)`` tensor of its own: the fused layer takes its
  layout from its first input, and the stacked ``(N, C, 1, k)`` (concat, reshape, transpose)
  made it planar, with three full-size reorders around every block;
* uneven picks (28 or 14 -> 11) are zero weights on both axes, the grid convs covering the
  whole map: OpenVINO runs ``Gather`` planar, a full-size reorder either side.

Together: 57 -> 0 layout conversions beyond the plain net's 2.

Equal to the block up to float32 rounding (the grid layer sums in another order, over zero
weights too; the bilinear profile is ``t·(B/2) + 1`` instead of ``(t/2 + 1)·B``; the OpenVINO
form multiplies ``x`` by one profile, then the other);
``tests/export/test_optimize_contextual.py`` checks it in float64 at many sizes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recalib.export.decompose import torch_nearest_indices
from recalib.export.rewrites import check_form
from recalib.blocks.common import check_input
from recalib.blocks.contextual import COEFFICIENT_RANGES, ContextualConv, squash
from recalib.blocks.emp import EMPS, coordinates
from recalib.errors import ConfigError

__all__ = ["ContextualConvInference", "DepthwiseGrid", "pick", "bilinear_bases", "applies", "MATMUL_MAP_MIN_WIDTH"]

# Map width from which the K = 1 MatMul renders the map faster than the broadcast Mul
# (onnxruntime 1.31 CPU, 2 threads, map alone then x * map; ms at batch 1 / 8, MatMul vs Mul):
# 56x56x256 0.37 vs 0.40 / 2.27 vs 2.56, 28x28x512 0.24 vs 0.27, 14x14x1024 0.195 vs 0.216,
# 7x7x2048 0.26 vs 0.17 / 1.91 vs 1.22 (2048 tiny GEMMs cost more than the short broadcast rows).
MATMUL_MAP_MIN_WIDTH = 14
SATURATED = 30.0  # tanh(30) is 1.0 exactly in float32 and float64 (and in onnxruntime's tanh, from 9)


def _even_step(picks: list[int]) -> int | None:
    """``s`` if ``picks`` is ``0, s, 2s, …``, else None."""
    step = picks[1] - picks[0] if len(picks) > 1 else 1
    return step if step > 0 and picks == list(range(0, step * len(picks), step)) else None


def pick(x: torch.Tensor, axis: int, picks: list[int]) -> torch.Tensor:
    """``x``'s slices at ``picks`` along ``axis``: one strided ``Slice`` when evenly spaced, else a ``Gather``."""
    step = _even_step(picks)
    if step is None:
        return x.index_select(axis, torch.tensor(picks, device=x.device))
    if picks == list(range(x.shape[axis])):
        return x
    index = (slice(None),) * axis + (slice(0, step * len(picks), step),)
    return x[index]


def _columns_by_weight(picks: list[int], width: int) -> bool:
    """Whether uneven column picks are cheaper as zero weights on every column than as a ``Gather``.

    onnxruntime gathers along the last axis element by element; a row-picked map
    ``(N, C, gh, W)`` is small, so multiplying its unpicked columns by 0 costs less.
    """
    return _even_step(picks) is None and width <= 4 * len(picks)


def bilinear_bases(h: int, w: int, one: bool, dtype: torch.dtype,
                   scale: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B_h (k, H), B_w (k, W))``: ``tanh(z) @ B`` is eq. 2's bilinear profile, ``k = 4 + one``.

    Rows follow ``z``'s order ``(w0, w1, h0, h1[, one])``. With ``P = tanh(z)/2 + 1`` and
    ``(1 - u) + u = 1``: ``P0·(1 - u) + P1·u = tanh(z0)·(1 - u)/2 + tanh(z1)·u/2 + 1``; the
    ``+ 1`` is the ``one`` row (``z`` then carries a 1), else the caller adds it. ``scale`` is
    the squash's factor on ``tanh`` (1 for the {−1…1} range, which adds nothing).
    """
    bases = []
    for n, first in ((h, 2), (w, 0)):
        u = coordinates(n, dtype)
        basis = torch.zeros(4 + one, n, dtype=dtype)
        basis[first], basis[first + 1] = (1 - u) * scale, u * scale
        if one:
            basis[4] = 1
        bases.append(basis)
    return bases[0], bases[1]


class DepthwiseGrid(nn.Module):
    """One coefficient of every channel: a depthwise conv whose ``(gh, w)`` kernel covers the picked map.

    ``(N, C, gh, w)`` → ``(N, C, 1, 1)``. Weight and bias are non-persistent buffers (the
    block's state dict holds them), so they export as initializers, not as indexing ops.
    """

    weight: torch.Tensor
    bias: torch.Tensor

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("weight", weight.unsqueeze(1).contiguous(), persistent=False)  # (C, 1, gh, w)
        self.register_buffer("bias", bias.contiguous(), persistent=False)  # (C,)

    def forward(self, grid: torch.Tensor) -> torch.Tensor:
        return F.conv2d(grid, self.weight.to(grid.dtype), self.bias.to(grid.dtype), groups=self.weight.shape[0])


def _depthwise(weight: torch.Tensor, bias: torch.Tensor) -> nn.ModuleList:
    """``(C, k', gh, w)`` weights and ``(C, 1, k')`` bias as ``k'`` :class:`DepthwiseGrid` convs."""
    return nn.ModuleList(DepthwiseGrid(weight[:, j], bias[:, 0, j]) for j in range(weight.shape[1]))


def _is_grid_layer(layer: nn.Module, channels: int) -> bool:
    return isinstance(layer, nn.Conv2d) and layer.groups == channels and layer.in_channels == channels


class ContextualConvInference(nn.Module):
    """``block`` (an input-dependent :class:`ContextualConv`) with static picks and batched products.

    Shapes as the block: ``x`` ``(N, C, H, W)`` → ``(N, C, H, W)``. The block (and so its state
    dict keys, under ``block.``) is kept as a submodule; the grid layer is stored again, in
    non-persistent buffers, as ``k'`` :class:`DepthwiseGrid` convs over the picked grid
    (``grid_convs``) and, when ``feat_size``'s columns are picked by zero weights, over whole
    rows (``sized_convs``, used at that width; for OpenVINO over the whole map, see
    :meth:`_sized_extent`). For a bilinear block without further layers ``k' = 5``: the fifth output has weight 0 and bias :data:`SATURATED`, so ``tanh`` makes it
    exactly 1 and the profiles need no ``+ 1`` (for finite inputs; an infinite one makes the
    block's output non-finite anyway). ``target`` (``onnxruntime`` or ``openvino``) selects
    how profiles and map are formed (see the module docstring).
    """

    def __init__(self, block: ContextualConv, target: str = "onnxruntime") -> None:
        super().__init__()
        first, *rest = block.net.children()
        if not isinstance(first, nn.Conv2d) or not _is_grid_layer(first, block.channels):
            raise ConfigError(f"ContextualConvInference needs a per-channel grid layer first; "
                              f"{block.label} starts with {type(first).__name__}")
        self.block, self.rest = block, nn.Sequential(*rest)
        self.target = check_form(target, type(self).__name__)
        self.scale, self.offset = COEFFICIENT_RANGES[block.coefficient_range]
        self.bases = block.emp == "bilinear" and target == "onnxruntime"
        self.one = self.bases and not rest and self.offset == 1
        weight, bias = self._grid_layer(first)  # (C, k', gh, gw), (C, 1, k')
        self.grid_convs = _depthwise(weight, bias)
        self.sized_height, self.sized_width = self._sized_extent()
        self.sized_convs = nn.ModuleList()
        if self.sized_width is not None:
            self.sized_convs = _depthwise(self._sized_weight(weight), bias)

    def _grid_layer(self, conv: nn.Conv2d) -> tuple[torch.Tensor, torch.Tensor]:
        """The grid conv as ``(C, out, gh, gw)`` weights and ``(C, 1, out)`` bias (plus the ``one`` output).

        Output channel ``c·out + j`` of a ``groups=C`` conv reads only input channel ``c``.
        """
        c = self.block.channels
        weight = conv.weight.detach().reshape(c, -1, *self.block.grid)
        bias = (torch.zeros(conv.out_channels, dtype=weight.dtype) if conv.bias is None
                else conv.bias.detach()).reshape(c, 1, -1)
        if self.one:
            weight = torch.cat((weight, weight.new_zeros(c, 1, *self.block.grid)), 1)
            bias = torch.cat((bias, bias.new_full((c, 1, 1), SATURATED)), 2)
        return weight.clone(), bias.clone()

    def _sized_extent(self) -> tuple[int | None, int | None]:
        """``feat_size``'s (height, width) along the axes whose grid is picked by zero weights (None: by indexing).

        Columns where uneven picks would gather along the last axis (:func:`_columns_by_weight`).
        For OpenVINO, both axes wherever either pick is uneven: its ``Gather`` runs in the planar
        layout, with a full-size reorder of the map on either side.
        """
        if self.block.feat_size is None:
            return None, None
        (h, w), (gh, gw) = self.block.feat_size, self.block.grid
        rows, cols = torch_nearest_indices(h, gh), torch_nearest_indices(w, gw)
        if self.target == "openvino" and (_even_step(rows) is None or _even_step(cols) is None):
            return h, w
        return None, (w if _columns_by_weight(cols, w) else None)

    def _sized_weight(self, weight: torch.Tensor) -> torch.Tensor:
        """The grid weights ``(C, k', gh, gw)`` placed at their picked positions of the sized axes."""
        (gh, gw), height, width = self.block.grid, self.sized_height, self.sized_width
        assert width is not None
        rows = torch_nearest_indices(height, gh) if height is not None else list(range(gh))
        cols = torch_nearest_indices(width, gw)
        sized = weight.new_zeros(*weight.shape[:2], height or gh, width)
        for i, row in enumerate(rows):
            for j, col in enumerate(cols):
                sized[:, :, row, col] += weight[:, :, i, j]  # sums where a pixel is picked twice
        return sized

    def grid_outputs(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The grid layer's ``k'`` outputs of ``(N, C, H, W)``, one ``(N, C, 1, 1)`` per coefficient."""
        gh, gw = self.block.grid
        sized = x.shape[-1] == self.sized_width and self.sized_height in (None, x.shape[-2])
        grid = x if sized and self.sized_height else pick(x, 2, torch_nearest_indices(x.shape[-2], gh))
        if sized:
            return [conv(grid) for conv in self.sized_convs]
        grid = pick(grid, 3, torch_nearest_indices(x.shape[-1], gw))
        return [conv(grid) for conv in self.grid_convs]

    def coefficients(self, x: torch.Tensor) -> torch.Tensor:
        """Raw (unsquashed) coefficients ``(N, C, 1, k')`` of ``(N, C, H, W)``."""
        c, outputs = self.block.channels, self.grid_outputs(x)
        z = torch.cat(outputs, 1).reshape(-1, len(outputs), c, 1).permute(0, 2, 3, 1)  # output-major
        if len(self.rest) == 0:
            return z
        return self.rest(z.reshape(-1, c * z.shape[-1], 1, 1)).reshape(-1, c, 1, self.block.k)

    def profiles(self, z: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(along_h (N, C, H, 1), along_w (N, C, 1, W))`` from raw coefficients ``(N, C, 1, k')``."""
        h, w = size
        if self.bases:
            basis_h, basis_w = (b.to(z.device) for b in bilinear_bases(h, w, self.one, z.dtype, self.scale))
            t = torch.tanh(z)
            along_h, along_w = (t @ basis_h).reshape(-1, z.shape[1], h, 1), t @ basis_w
            if self.one or self.offset == 0:
                return along_h, along_w
            return along_h + self.offset, along_w + self.offset
        p = squash(z, self.block.coefficient_range)
        return self.render([p[..., j:j + 1] for j in range(p.shape[-1])], size)

    def render(self, p: list[torch.Tensor], size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Eq. 2's profiles ``(along_h (N, C, H, 1), along_w (N, C, 1, W))`` from squashed coefficients
        ``p``, each ``(N, C, 1, 1)``, in ``z``'s order ``(w0, w1, h0, h1)``, by the block's EMP formula."""
        h, w = size
        emp, reading = str(self.block.emp), str(self.block.reading)
        profile = EMPS[emp]
        u_h = coordinates(h, p[0].dtype, p[0].device, emp=emp, reading=reading).reshape(h, 1)
        u_w = coordinates(w, p[0].dtype, p[0].device, emp=emp, reading=reading)
        return profile(p[2], p[3], u_h), profile(p[0], p[1], u_w)

    def channels_last_product(self, x: torch.Tensor) -> torch.Tensor:
        """OpenVINO's form: ``x`` times each profile, with every coefficient a ``(N, C, 1, 1)`` of its own.

        OpenVINO fuses the profiles' formula and both products into one elementwise layer whose
        layout follows its first input: kept in per-coefficient ``(N, C, 1, 1)`` tensors (no
        concat, reshape or transpose), that input is channels-last like ``x``, and no full-size
        tensor is converted (a stacked ``(N, C, 1, k)`` put the layer in the planar layout, with
        three full-size reorders around it).
        """
        p = [squash(z, self.block.coefficient_range) for z in self.grid_outputs(x)]
        if self.block.emp is None:
            return x * p[0]
        along_h, along_w = self.render(p, (x.shape[-2], x.shape[-1]))
        return x * along_h * along_w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.block.channels, self.block.label)
        self.block._check_size(x)
        if self.target == "openvino" and len(self.rest) == 0:
            return self.channels_last_product(x)
        z = self.coefficients(x)
        if self.block.emp is None:
            return x * squash(z, self.block.coefficient_range)  # (N, C, 1, 1)
        along_h, along_w = self.profiles(z, (x.shape[-2], x.shape[-1]))
        if self.target == "openvino":
            return x * along_h * along_w
        if x.shape[-1] < MATMUL_MAP_MIN_WIDTH:
            return x * (along_h * along_w)
        return x * (along_h @ along_w)  # K = 1: each element is the block's single product


def applies(module: nn.Module) -> bool:
    """Whether :class:`ContextualConvInference` can stand in for ``module`` (a per-channel grid layer first)."""
    if not isinstance(module, ContextualConv):
        return False
    return _is_grid_layer(next(iter(module.net.children())), module.channels)
