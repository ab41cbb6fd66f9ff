"""Multi-Scale Spatially-Asymmetric Recalibration (MS-SAR).

Wang, Xie, Qiao, Zhang, Zhang, Yuille, "Multi-Scale Spatially-Asymmetric Recalibration for
Image Classification", ECCV 2018. No official code exists; the paper is the spec and its
Tables 2, 3 and 5 settle the ambiguous readings (see :class:`MSSAR`). The averaging over
coordinate sets lives in :mod:`recalib.blocks.region_pooling`.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from recalib.blocks.common import as_pair, check_batch_statistics, check_feat_size, check_input, reduced_channels
from recalib.blocks.region_pooling import box_matrix, contract, diamond_matrix, region_matrices, regions_fit
from recalib.entries import BlockEntry
from recalib.errors import ConfigError, ShapeError, UnknownNameError

__all__ = ["MSSAR", "SCALES", "STRATEGIES", "ENTRIES"]

SCALES: tuple[int, ...] = (1, 2, 4)
STRATEGIES: tuple[str, ...] = ("regional", "sliding", "sliding-diamond")
_NAME = "ms-sar"
Size = tuple[int, int]


def _excitation(source_channels: int, hidden: int, channels: int) -> nn.Sequential:
    """Eq. (1) after pooling: ``σ2[Ω2 · σ1[Ω1 · y]]`` at every pooled position.

    Ω1, Ω2 are 1×1 convs without bias: each feeds a BN, whose shift makes a bias redundant.
    """
    return nn.Sequential(OrderedDict(
        omega1=nn.Conv2d(source_channels, hidden, kernel_size=1, bias=False),
        bn1=nn.BatchNorm2d(hidden), relu=nn.ReLU(),
        omega2=nn.Conv2d(hidden, channels, kernel_size=1, bias=False),
        bn2=nn.BatchNorm2d(channels), sigmoid=nn.Sigmoid(),
    ))


class _Scale(nn.Module):
    """One scale ``K``: average every coordinate set, apply Eq. (1), return ``Z^(K)``.

    With ``feat_size`` the averaging matrices are built once (non-persistent buffers: derived
    from the size, so state dicts stay interchangeable); without it they are built from each
    input's static shape. Built on the meta device (a network counted or checked, never run on
    values), the buffers get their shapes only: their values never matter there, and computing
    them through PyTorch's meta kernels took 2 ms per scale, most of ``recalib models --paper all``.
    """

    def __init__(self, k: int, excite: nn.Sequential, feat_size: Size | None) -> None:
        super().__init__()
        self.k, self.excite, self.feat_size = k, excite, feat_size
        self._names: list[str] = []
        if feat_size is not None:
            on_meta = torch.get_default_device().type == "meta"
            built = (tuple(torch.empty(shape) for shape in self.shapes(feat_size)) if on_meta
                     else self.build(feat_size, torch.float32, None))
            for i, matrix in enumerate(built):
                self._names.append(f"matrix{i}")
                self.register_buffer(self._names[-1], matrix, persistent=False)

    def build(self, size: Size, dtype: torch.dtype, device: torch.device | None) -> tuple[torch.Tensor, ...]:
        """The constant averaging (and spreading) matrices for an ``(H, W)`` map."""
        raise NotImplementedError

    def shapes(self, size: Size) -> tuple[tuple[int, ...], ...]:
        """The shapes :meth:`build` gives for an ``(H, W)`` map (checked as it checks the map)."""
        raise NotImplementedError

    def matrices(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.feat_size is not None:
            return tuple(getattr(self, name) for name in self._names)
        return self.build((x.shape[-2], x.shape[-1]), x.dtype, x.device)

    def extra_repr(self) -> str:
        return f"K={self.k}"


class _GlobalScale(_Scale):
    """``K = 1`` regional: one set, the whole map: SE's global average squeeze, gate ``(N, C, 1, 1)``."""

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        return self.excite(source.mean((2, 3), keepdim=True))


def _check_regions(size: Size, k: int) -> None:
    """Raise :class:`ShapeError` when a ``k × k`` partition of ``size`` would leave empty regions."""
    if not regions_fit(size, k):
        raise ShapeError(f"{_NAME}: regional scale K={k} splits the map into {k}x{k} regions but the "
                         f"feature map is only {size[0]}x{size[1]} (K larger than the map); drop {k} "
                         f"from scales or use strategy='sliding'")


class _RegionalScale(_Scale):
    """``K × K`` partition: pool to ``K × K``, Eq. (1) there, spread each gate back onto its region."""

    def build(self, size: Size, dtype: torch.dtype, device: torch.device | None) -> tuple[torch.Tensor, ...]:
        _check_regions(size, self.k)
        return (*region_matrices(size[0], self.k, dtype, device), *region_matrices(size[1], self.k, dtype, device))

    def shapes(self, size: Size) -> tuple[tuple[int, ...], ...]:
        _check_regions(size, self.k)
        (h, w), k = size, self.k
        return (h, k), (k, h), (w, k), (k, w)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        pool_h, spread_h, pool_w, spread_w = self.matrices(source)
        gate = self.excite(contract(source, pool_h, pool_w))  # (N, C, K, K), axes swapped
        return contract(gate, spread_w, spread_h)  # swapped back: (N, C, H, W)


class _SlidingScale(_Scale):
    """A clipped square window of radius ``sqrt(H·W)/K`` around every position; Eq. (1) at full size."""

    def build(self, size: Size, dtype: torch.dtype, device: torch.device | None) -> tuple[torch.Tensor, ...]:
        return (box_matrix(size[0], size[1], self.k, dtype, device),
                box_matrix(size[1], size[0], self.k, dtype, device))

    def shapes(self, size: Size) -> tuple[tuple[int, ...], ...]:
        return (size[0], size[0]), (size[1], size[1])

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        box_h, box_w = self.matrices(source)
        # Eq. (1) is per position, so it runs in contract's swapped layout; one transpose at the end.
        return self.excite(contract(source, box_h, box_w)).transpose(-1, -2)


class _DiamondScale(_Scale):
    """The text's window ``‖p − q‖₁ ≤ sqrt(H·W)/K`` (a clipped diamond) around every position; Eq. (1) there."""

    def build(self, size: Size, dtype: torch.dtype, device: torch.device | None) -> tuple[torch.Tensor, ...]:
        return (diamond_matrix(size[0], size[1], self.k, dtype, device),)

    def shapes(self, size: Size) -> tuple[tuple[int, ...], ...]:
        return ((size[0] * size[1],) * 2,)

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        (diamond,) = self.matrices(source)
        return self.excite((source.flatten(2) @ diamond).unflatten(2, source.shape[-2:]))


_SCALE_TYPES: dict[str, type[_Scale]] = {"regional": _RegionalScale, "sliding": _SlidingScale,
                                         "sliding-diamond": _DiamondScale}


class MSSAR(nn.Module):
    r"""MS-SAR block: ``X̃ = X ⊙ (1/L) Σ_l Z^(l)`` (Eq. 2), one recalibration per scale ``K ∈ scales``.

    Per scale (Eq. 1): ``z_{w,h} = σ2[Ω2 · σ1[Ω1 · mean_{S_{w,h}} x]]`` where ``S_{w,h}`` is the
    coordinate set of position ``(w, h)`` at scale ``K``, Ω1 is ``h × S``, Ω2 is ``C × h`` (1×1
    convs, no bias), σ1 = BN + ReLU, σ2 = BN + sigmoid. Coordinate sets
    (``strategy``; exact rules in :mod:`recalib.blocks.region_pooling`):

    * ``"regional"`` (paper default): the map is partitioned into ``K × K`` regions (sizes differ
      by at most one when ``K`` does not divide H or W); computed as pool to ``K × K`` → Eq. (1)
      at ``K × K`` → spread each gate back onto exactly the positions of its region. ``K = 1`` is
      a global average and a ``(N, C, 1, 1)`` gate, i.e. SE. ``K`` larger than H or W leaves
      empty regions and is an error (ConfigError with ``feat_size``, ShapeError at run time).
    * ``"sliding"``: a square of radius ``T = sqrt(W·H)/K`` around each position, clipped at the
      borders; Eq. (1) runs at every position (cost ``2·W·H·C·h`` per scale, Sec. 3.5).
    * ``"sliding-diamond"``: the window Sec. 3.2 writes, ``‖(w, h) − (w', h')‖₁ ≤ T``, clipped
      at the borders; Eq. (1) at every position as for ``"sliding"``. Not separable, so its
      averaging is one ``(H·W × H·W)`` constant matrix per scale (``(H·W)²`` multiply-adds per
      channel and that many floats of buffer: 4 MB at 32×32, 39 MB at 56×56).

    Shapes: ``x`` ``(N, C, H, W)`` → ``(N, C, H, W)``. Multi-stage recalibration (Sec. 3.4, the
    DenseNet "main vector"): built with ``source_channels=S``, ``forward(x, source)`` computes the
    gates from ``source`` ``(N, S, H, W)`` and applies them to ``x``; with ``source=None`` they
    come from ``x`` (single-stage, ``S = C``).

    Parameters: ``L·(S·h + h·C + 2h + 2C)`` with ``L = len(scales)``, ``h = ⌊C/(r·L)⌋``
    (``r = reduction``), ``S = source_channels or C``: per scale Ω1, Ω2 and the affine weights
    of the two BNs.

    Ambiguity decisions (ResNet evidence: option-A CIFAR ResNets with MS-SAR after the second
    conv of every basic block, widths 16/32/64; baselines 269,722 / 464,154 / 853,018):

    * **Per-scale Ω1, Ω2 with hidden width ``⌊C/(r·L)⌋``, r = 3 on CIFAR.** Sec. 3.5 says
      ``2DD'`` per scale and ``D' = D/L``; Sec. 4.1 says ``D' = D/3`` for ``L = {1,2,4}``. Taken
      literally (``D' = D/3`` per scale) RN-20/32/56* would have 0.30/0.52/0.96M parameters;
      Table 2 says 0.28/0.48/0.89M, which ``h = ⌊C/9⌋`` per scale gives exactly (0.282/0.485/
      0.890M). Weights shared across scales with ``D' = D/3`` also fit Table 2 but not Table 3's
      FLOPs: there ``L = {4}`` costs more than ``{1,2,4}`` (126.3M vs 126.0M on RN-56), which
      only a per-scale width shrinking with ``L`` gives (FC MACs +0.50M vs +0.21M; shared
      weights would give +0.50M vs +0.66M). Hence ``h = ⌊C/(r·L)⌋`` keeps the total constant
      over scale sets, as Sec. 3.5 and Tables 3/5 ("same number of parameters") state, and
      ``scales=(1,)`` has SE's hidden width ``⌊C/r⌋``. ``reduction`` defaults to the paper's
      CIFAR ResNet value 3; Table 5's ResNeXt-50 (27.6M vs SE's 27.5M) needs r = 16, and
      DenseNet-100's Table 3 FLOPs (+1.81M at ``{4}``, +0.79M at ``{1,2,4}``) fit r = 1. So
      :func:`recalib.create_model` defaults to r = 16 on ImageNet backbones and to r = 1 with
      multi-stage recalibration on the DenseNets (:mod:`recalib.models.block_defaults`).
    * **Floor rounding.** ``round`` or ``ceil`` of ``16/9`` make RN-32* 0.486M/0.488M → 0.49M.
    * **No biases (each conv feeds a BN); the BN affine weights count.** Without them RN-56*
      is 0.883M (0.88M); biases on top of the BNs push RN-32* to 0.486M (0.49M).
    * **h from the recalibrated width C, also in multi-stage mode.** The paper defines ``D'``
      from the recalibrated depth; DenseNet-100's FLOPs fit it (r = 1, ``h = 12/L``). Its
      parameter count (0.99M, i.e. +0.19M) is not explained by this or any reading we tried
      (+0.12M).
    * **Regional sets form a partition** (the paper: "partitions the image lattice … all
      positions falling in the same region"), so that pooling and spreading are exact inverses
      and ``q ∈ S_p ⇔ p ∈ S_q`` as Sec. 3.2 requires. Overlapping adaptive-pool regions would
      break both when ``K`` does not divide the map.
    * **``"sliding"`` windows are squares (L∞ ball), not the L1 diamond the formula writes:**
      the paper's footnote 1 calls the set "a square region" and footnote 3 computes it with
      rectangle partial sums. A square is separable, so it is two constant matrix products
      (standard MatMuls); the diamond is the ``"sliding-diamond"`` option.

    BN in training mode needs more than one value per channel, i.e. ``N·K² > 1`` for the
    smallest regional ``K`` (``N > 1`` with K = 1); a batch of one raises :class:`ShapeError`
    naming the scale, after the check that every ``K`` fits the map.
    ``torch.compile`` works for both strategies at fixed sizes; training the sliding strategy
    with sizes that change between calls needs ``torch.compile(..., dynamic=False)``: Inductor
    (torch 2.13, CPU) fails on a 1×1 conv backward downstream of a matmul with symbolic H, W.
    """

    def __init__(self, channels: int, *, scales: Sequence[int] = SCALES, strategy: str = "regional",
                 reduction: int = 3, feat_size: int | Size | None = None,
                 source_channels: int | None = None) -> None:
        super().__init__()
        self.scales = _check_scales(scales)
        if strategy not in STRATEGIES:
            raise UnknownNameError("MS-SAR strategy", str(strategy), list(STRATEGIES))
        self.channels, self.reduction, self.strategy = channels, reduction, strategy
        self.hidden = _hidden_width(channels, reduction, len(self.scales))
        self.source_channels = _check_source_channels(source_channels, channels)
        self.feat_size = None if feat_size is None else as_pair(feat_size, f"{_NAME}: feat_size")
        self.branches = nn.ModuleDict({f"K{k}": self._scale(k) for k in self.scales})

    def _scale(self, k: int) -> _Scale:
        excite = _excitation(self.source_channels, self.hidden, self.channels)
        if self.strategy == "regional" and k == 1:
            return _GlobalScale(k, excite, None)
        try:
            return _SCALE_TYPES[self.strategy](k, excite, self.feat_size)
        except ShapeError as error:  # known at construction: a configuration mistake
            raise ConfigError(f"{error} (feat_size={self.feat_size})") from None

    def forward(self, x: torch.Tensor, source: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``(N, C, H, W)``, optional ``source`` ``(N, S, H, W)`` → ``(N, C, H, W)``."""
        check_input(x, self.channels, _NAME, self)
        if self.feat_size is not None:
            check_feat_size(x, self.feat_size, _NAME)
        context = self._context(x, source)
        self._check_map(context)
        gates = [branch(context) for branch in self.branches.values()]
        gate = gates[0]
        for other in gates[1:]:
            gate = gate + other
        if len(gates) > 1:  # Eq. (2): the average over scales
            gate = gate / len(gates)
        return x * gate

    def _check_map(self, context: torch.Tensor) -> None:
        """Every scale fits the map; in training, every BN sees more than one value per channel.

        Checked before any branch runs, so that neither error surfaces from inside torch.
        """
        size = (int(context.shape[-2]), int(context.shape[-1]))
        if self.strategy != "regional":
            check_batch_statistics(context.shape[0] * size[0] * size[1], self.training, _NAME,
                                   f"the {size[0]}x{size[1]} gate map")
            return
        for k in self.scales:
            _check_regions(size, k)
        k = self.scales[0]
        what = "scale K=1's global average (SE's squeeze)" if k == 1 else f"scale K={k}'s {k}x{k} pooled map"
        check_batch_statistics(context.shape[0] * k * k, self.training, _NAME, what)

    def _context(self, x: torch.Tensor, source: torch.Tensor | None) -> torch.Tensor:
        """The tensor the gates are computed from: ``source`` (multi-stage) or ``x``."""
        if source is None:
            if self.source_channels != self.channels:
                raise ShapeError(f"{_NAME} was built for multi-stage recalibration from a "
                                 f"{self.source_channels}-channel source; call block(x, source=...)")
            return x
        check_input(source, self.source_channels, f"{_NAME} (source)", self)
        if source.shape[0] != x.shape[0] or source.shape[-2:] != x.shape[-2:]:
            raise ShapeError(f"{_NAME}: source {tuple(source.shape)} must match x {tuple(x.shape)} in "
                             f"batch and spatial size; pass the dense layer's input as the source")
        return source

    def formula_params(self) -> int:
        """``L·(S·h + h·C + 2h + 2C)``, ``h = ⌊C/(r·L)⌋``, from the hyperparameters."""
        n, c, s = len(self.scales), self.channels, self.source_channels
        h = c // (self.reduction * n)
        return n * (s * h + h * c + 2 * h + 2 * c)

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, scales={self.scales}, strategy={self.strategy!r}, "
                f"reduction={self.reduction}, hidden={self.hidden}, feat_size={self.feat_size}, "
                f"source_channels={self.source_channels}")


def _check_scales(scales: Sequence[int]) -> tuple[int, ...]:
    """A non-empty set of distinct scales from (1, 2, 4), sorted (so ``(4, 1)`` ≡ ``(1, 4)``)."""
    if isinstance(scales, (str, bytes)) or not isinstance(scales, Sequence):
        raise ConfigError(f"{_NAME}: scales must be a sequence such as (1, 2, 4), got {scales!r}")
    values = tuple(scales)
    if not values or len(set(values)) != len(values) or not set(values) <= set(SCALES):
        raise ConfigError(f"{_NAME}: scales must be a non-empty subset of {SCALES} without repeats "
                          f"(the paper's scale factors K), got {values!r}")
    return tuple(sorted(values))


def _hidden_width(channels: int, reduction: int, n_scales: int) -> int:
    """Per-scale hidden width ``⌊C/(r·L)⌋``; an empty hidden layer is refused."""
    reduced_channels(channels, reduction, name=_NAME)  # validates channels and reduction
    hidden = channels // (reduction * n_scales)
    if hidden < 1:
        raise ConfigError(f"{_NAME}: hidden width per scale is C // (reduction * L) = {channels} // "
                          f"({reduction} * {n_scales}) = 0; use reduction <= {channels // n_scales} "
                          f"or fewer scales")
    return hidden


def _check_source_channels(source_channels: int | None, channels: int) -> int:
    if source_channels is None:
        return channels
    if not isinstance(source_channels, int) or isinstance(source_channels, bool) or source_channels < 1:
        raise ConfigError(f"{_NAME}: source_channels must be a positive int (the channels of the "
                          f"multi-stage source) or None, got {source_channels!r}")
    return source_channels


#: This family's registry entries (:data:`recalib.blocks.BLOCKS` adds them).
ENTRIES: tuple[BlockEntry, ...] = (
    BlockEntry(
        _NAME, MSSAR,
        paper="Wang, Xie, Qiao, Zhang, Zhang, Yuille. Multi-Scale Spatially-Asymmetric Recalibration "
              "for Image Classification. ECCV 2018",
        params="L*(S*h + h*C + 2*h + 2*C), h = C//(r*L), L = len(scales), S = source_channels or C",
        summary="per scale K in {1,2,4}: average over KxK regions (or sliding squares/diamonds) -> 1x1 conv "
                "C->h -> BN -> ReLU -> 1x1 conv h->C -> BN -> sigmoid -> spread back; gates averaged over "
                "scales -> scale",
        alternatives={"sliding squares (Sec. 3.2, footnotes 1 and 3)": {"strategy": "sliding"},
                      "sliding L1 diamonds (Sec. 3.2's formula)": {"strategy": "sliding-diamond"}},
    ),
)
