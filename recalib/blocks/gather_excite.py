"""Gather-Excite (Hu, Shen, Albanie, Sun, Vedaldi, "Gather-Excite: Exploiting Feature Context in
Convolutional Neural Networks", NeurIPS 2018).

Official code: hujie-frank/GENet (Caffe prototxts, global extent only). One class,
:class:`GatherExcite`, is registered as three variants (``ge-theta-minus``, ``ge-theta``,
``ge-theta-plus``) whose builders take exactly the options that apply to them, so the registry
rejects the others by name. GE-θ⁺ reuses SE's :class:`~recalib.blocks.se.ExciteMLP`.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Literal, Union

import torch
import torch.nn.functional as F
from torch import nn

from recalib.blocks.common import (as_pair, check_batch_statistics, check_channels, check_feat_size, check_input,
                                   reduced_channels)
from recalib.blocks.se import ExciteMLP, global_pool
from recalib.entries import BlockEntry
from recalib.errors import ConfigError

__all__ = ["GatherExcite", "AvgGather", "conv_gather", "check_extent", "Variant", "Extent", "VARIANTS", "ENTRIES"]

Variant = Literal["theta-minus", "theta", "theta-plus"]
VARIANTS: tuple[str, ...] = ("theta-minus", "theta", "theta-plus")
GLOBAL: Literal["global"] = "global"
Extent = Union[int, Literal["global"]]
FeatSize = Union[int, tuple[int, int], None]


def check_extent(extent: object, name: str) -> int | None:
    """The gather stride for ``extent``: ``None`` for ``"global"``, else a power of two >= 2."""
    if extent == GLOBAL:
        return None
    if isinstance(extent, bool) or not isinstance(extent, int) or extent < 2 or extent & (extent - 1):
        raise ConfigError(f"{name}: extent must be a power of two >= 2 (the paper uses 2, 4, 8) or "
                          f"'global', got {extent!r}")
    return extent


def _check_extent_fits(extent: int, feat_size: tuple[int, int], name: str) -> None:
    """Reject an extent whose last stride-2 conv would only see a 1×1 map (and its padding).

    ``extent >= map`` alone is allowed: the paper runs E8 on ResNet-50 and ShuffleNet, whose
    last stage is 7×7, where the gather then simply covers the whole map.
    """
    if max(feat_size) <= extent // 2:
        raise ConfigError(f"{name}: extent={extent} is too large for a {feat_size[0]}x{feat_size[1]} "
                          f"feature map: the map is already 1x1 before the last of the log2({extent}) "
                          f"stride-2 convs; use extent='global' or an extent below {2 * max(feat_size)}")


class AvgGather(nn.Module):
    """Parameter-free gather ξG of GE-θ⁻: ``(N, C, H, W) → (N, C, ⌈H/e⌉, ⌈W/e⌉)``, or ``(N, C, 1, 1)`` global.

    Extent e averages the window ι(u, e) = {e·u + δ : δ ∈ [−(e−1), e−1]²} of the paper (Sec. 2),
    clipped to the map: ``avg_pool2d(kernel 2e−1, stride e, padding e−1, count_include_pad=False)``.
    """

    def __init__(self, extent: int | None) -> None:
        super().__init__()
        self.extent = extent

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.extent is None:
            return global_pool(x, "avg")
        e = self.extent
        # padding is not a feature: average over the part of ι(u, e) inside the map.
        return F.avg_pool2d(x, 2 * e - 1, stride=e, padding=e - 1, count_include_pad=False)

    def extra_repr(self) -> str:
        return f"extent={self.extent or GLOBAL!r}"


def conv_gather(channels: int, extent: int | None, feat_size: tuple[int, int] | None) -> nn.Sequential:
    """Parameterised gather ξG(θ) of GE-θ/GE-θ⁺: depthwise convs (no bias), each followed by BN.

    Global (``extent=None``): one depthwise conv with kernel = ``feat_size``, stride 1 → BN, as the
    official prototxt. Extent e: log2(e) depthwise 3×3 stride-2 convs (padding 1), BN after
    each and ReLU between them but not after the last (timm's layout; no official code exists).
    """
    if extent is None:
        assert feat_size is not None, "global conv gather needs feat_size"
        return nn.Sequential(OrderedDict(
            conv1=nn.Conv2d(channels, channels, feat_size, groups=channels, bias=False),
            bn1=nn.BatchNorm2d(channels)))
    layers: list[tuple[str, nn.Module]] = []
    for i in range(1, extent.bit_length()):
        if i > 1:
            layers.append((f"act{i - 1}", nn.ReLU()))
        layers.append((f"conv{i}", nn.Conv2d(channels, channels, 3, stride=2, padding=1,
                                             groups=channels, bias=False)))
        layers.append((f"bn{i}", nn.BatchNorm2d(channels)))
    return nn.Sequential(OrderedDict(layers))


class GatherExcite(nn.Module):
    """Gather-Excite block (GE paper, Secs. 2–3): ``y = x ⊙ σ(interp(f(ξG(x))))``.

    Shapes: ``(N, C, H, W) → (N, C, H, W)``. The gather ξG maps ``(N, C, H, W)`` to
    ``(N, C, ⌈H/e⌉, ⌈W/e⌉)`` for extent e, or ``(N, C, 1, 1)`` for global extent; the excite
    resizes the gate back to ``(H, W)`` by nearest neighbour (broadcast for global) and multiplies.

    Variants (``variant``, fixed by the registered names):

    * ``theta-minus`` (GE-θ⁻, Sec. 3.1): ξG = average pooling, f = identity. Parameters: ``0``.
    * ``theta`` (GE-θ, Sec. 3.2): ξG(θ) = depthwise conv(s) + BN (:func:`conv_gather`), f = identity.
      Parameters: global ``C·H·W + 2C``; extent e ``11·C·log2(e)`` (each 3×3 conv 9C + BN 2C).
    * ``theta-plus`` (GE-θ⁺, Sec. 3.2): ξG(θ) → ReLU → f = SE's :class:`ExciteMLP` with
      ``reduction`` r (default 16). Parameters: GE-θ's + ``2·C·⌊C/r⌋ + ⌊C/r⌋ + C``.

    Options: ``extent`` is ``"global"`` (default: the paper's best and the only official code)
    or a power of two (the paper uses 2, 4, 8). ``feat_size=(H, W)`` is required by the
    parameterised variants at global extent (the depthwise kernel is the whole map; running at
    another size raises :class:`ShapeError`); with a finite extent it is optional, only validates
    the extent, and the block runs at any size. GE-θ⁻ takes no ``feat_size``, and only GE-θ⁺ a
    ``reduction``; anything else is rejected, never ignored.

    Decisions and evidence:

    * GE-θ⁻ window: the paper defines the gather by ι(u, e) = {e·u + δ : |δ| ≤ ⌊(2e−1)/2⌋}, a
      (2e−1)² window centred on e·u with ⌈H/e⌉ outputs — avg_pool2d(2e−1, stride e, padding e−1,
      count_include_pad=False) (timm's choice), not a plain e×e pool. The same window is the
      receptive field of GE-θ's chain, so θ⁻ and θ gather the same neighbourhood at equal e.
    * GE-θ chain length: log2(e) stride-2 convs, not the text's "e/2" (equal for e = 2, 4): only
      log2(e) gives the defined ⌈H/e⌉ output and 2e−1 receptive field, and Tab. 4 agrees
      (ShuffleNet E2/E4/E8: 2.0/2.1/2.2 M; log2(e) gives 1.99/2.10/2.20 M counting BN
      statistics, e/2 would give 2.30 M for E8). BN after every conv and ReLU only between
      convs follow timm, as there is no official code for finite extents.
    * GE-θ⁺: the official prototxt (RN50-GEPP) has a ReLU after the gather's BN; timm omits it.
      We follow the official code.
    * Sigmoid is applied before the nearest resize: nearest resizing only copies values, so it
      commutes with σ, and the sigmoid then runs on ⌈H/e⌉·⌈W/e⌉ instead of H·W elements. The
      resize gets an explicit ``size`` (never a scale factor, which is wrong for non-divisible
      maps); its floor rule sends each position to an aggregate whose window contains it.
    * Parameter totals: inserted in every ResNet-50 bottleneck (256×3 at 56², 512×4 at 28²,
      1024×6 at 14², 2048×3 at 7²) GE-θ adds 5,549,568 learnable parameters (31,106,600 in
      all), GE-θ⁺ 8,080,560 (33,637,592). The paper's 31.2 M / 33.7 M (Tab. 1–2) are reproduced
      when BN running mean/var are counted, as Caffe stores them: 31,189,928 and 33,720,920,
      with the baseline 25,610,152 (25.6 M) and Tab. 1's per-stage 28.0 / 27.2 / 26.8 M.
    * The gather's last BN normalises a 1×1 map at global extent (and at extent e on maps of at
      most e×e, e.g. E8 on ResNet-50's 7×7), so training at batch 1 would fail inside torch;
      it raises :class:`ShapeError` naming the block instead.
    """

    def __init__(self, channels: int, *, variant: Variant = "theta-minus", extent: Extent = GLOBAL,
                 feat_size: FeatSize = None, reduction: int | None = None) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ConfigError(f"gather-excite: variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
        self.name = f"ge-{variant}"
        check_channels(channels, self.name)
        self.channels, self.variant, self.extent = channels, variant, extent
        self.stride = check_extent(extent, self.name)
        self.feat_size = self._resolve_feat_size(feat_size)
        self.reduction = self._resolve_reduction(reduction)
        # only the global conv gather is tied to one map size; finite extents run at any size
        self.bound_size = self.feat_size if self.stride is None else None
        self.gather = (AvgGather(self.stride) if variant == "theta-minus"
                       else conv_gather(channels, self.stride, self.feat_size))
        self.act, self.mlp = self._build_excite()

    def _resolve_feat_size(self, feat_size: FeatSize) -> tuple[int, int] | None:
        if self.variant == "theta-minus":
            if feat_size is not None:
                raise ConfigError("ge-theta-minus has no parameters and runs at any size; drop feat_size")
            return None
        if feat_size is None:
            if self.stride is None:
                raise ConfigError(f"{self.name}: extent='global' needs feat_size=(H, W), because the "
                                  f"global depthwise kernel is the whole feature map; pass feat_size "
                                  f"or choose a finite extent (2, 4, 8)")
            return None
        pair = as_pair(feat_size, f"{self.name}: feat_size")
        if self.stride is not None:
            _check_extent_fits(self.stride, pair, self.name)
        return pair

    def _resolve_reduction(self, reduction: int | None) -> int | None:
        if self.variant != "theta-plus":
            if reduction is not None:
                raise ConfigError(f"{self.name}: reduction applies only to ge-theta-plus (the variant "
                                  f"with an excitation MLP); drop it")
            return None
        return 16 if reduction is None else reduction

    def _build_excite(self) -> tuple[nn.Module, nn.Module]:
        """(activation, MLP) between gather and sigmoid: identities except for GE-θ⁺."""
        if self.reduction is None:
            return nn.Identity(), nn.Identity()
        # the official GE-θ⁺ prototxt puts a ReLU between the gather's BN and the MLP
        return nn.ReLU(), ExciteMLP(self.channels, reduced_channels(self.channels, self.reduction, name=self.name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.channels, self.name, self)
        if self.bound_size is not None:
            check_feat_size(x, self.bound_size, self.name)
        if self.variant != "theta-minus":
            self._check_batch_statistics(x)
        gate = torch.sigmoid(self.mlp(self.act(self.gather(x))))
        if self.stride is not None and gate.shape[-2:] != (1, 1):
            # explicit size: ⌈H/e⌉·e overshoots H on non-divisible maps, so a scale factor cannot work.
            # A 1×1 gate (extent ≥ map, e.g. e = 8 on 7×7) broadcasts instead: the same product,
            # without materialising the resized map.
            gate = F.interpolate(gate, size=x.shape[-2:], mode="nearest")
        return x * gate

    def _check_batch_statistics(self, x: torch.Tensor) -> None:
        """The gather's last BN normalises the gathered map: ``N·⌈H/e⌉·⌈W/e⌉`` values (``N`` global)."""
        if self.stride is None:
            size, what = (1, 1), "the 1x1 map of the global gather"
        else:
            e = self.stride
            size = (-(-int(x.shape[-2]) // e), -(-int(x.shape[-1]) // e))
            what = f"the {size[0]}x{size[1]} map the extent-{e} gather leaves"
        check_batch_statistics(x.shape[0] * size[0] * size[1], self.training, self.name, what)

    def formula_params(self) -> int:
        """The docstring's formula: gather (0, ``C·H·W + 2C`` or ``11·C·log2 e``) + MLP (θ⁺ only)."""
        c = self.channels
        if self.variant == "theta-minus":
            gather = 0
        elif self.stride is None:
            assert self.feat_size is not None
            gather = c * self.feat_size[0] * self.feat_size[1] + 2 * c
        else:
            gather = 11 * c * (self.stride.bit_length() - 1)
        excite = self.mlp.formula_params() if isinstance(self.mlp, ExciteMLP) else 0
        return gather + excite

    def extra_repr(self) -> str:
        extra = "" if self.feat_size is None else f", feat_size={self.feat_size}"
        extra += "" if self.reduction is None else f", reduction={self.reduction}"
        return f"channels={self.channels}, variant={self.variant!r}, extent={self.extent!r}{extra}"


def _ge_theta_minus(channels: int, *, variant: Variant, extent: Extent = GLOBAL) -> GatherExcite:
    """Builder of ``ge-theta-minus``: no feat_size, no reduction."""
    return GatherExcite(channels, variant=variant, extent=extent)


def _ge_theta(channels: int, *, variant: Variant, extent: Extent = GLOBAL,
              feat_size: FeatSize = None) -> GatherExcite:
    """Builder of ``ge-theta``: no reduction (it has no MLP)."""
    return GatherExcite(channels, variant=variant, extent=extent, feat_size=feat_size)


def _ge_theta_plus(channels: int, *, variant: Variant, extent: Extent = GLOBAL,
                   feat_size: FeatSize = None, reduction: int = 16) -> GatherExcite:
    """Builder of ``ge-theta-plus``: every option."""
    return GatherExcite(channels, variant=variant, extent=extent, feat_size=feat_size, reduction=reduction)


_PAPER = "Hu, Shen, Albanie, Sun, Vedaldi. Gather-Excite: Exploiting Feature Context in CNNs. NeurIPS 2018"
_GATHER = "global: C*H*W + 2*C (depthwise HxW conv + BN); extent e: 11*C*log2(e) (3x3 depthwise convs + BN)"

#: This family's registry entries (:data:`recalib.blocks.BLOCKS` adds them).
ENTRIES: tuple[BlockEntry, ...] = (
    BlockEntry("ge-theta-minus", _ge_theta_minus, paper=_PAPER, params="0", fixed={"variant": "theta-minus"},
               summary="parameter-free: average pool over the (2e-1)^2 window (or global) -> sigmoid -> nearest "
                       "resize to HxW -> multiply"),
    # needs_feat_size describes the default (global) build; finite extents do not need feat_size
    BlockEntry("ge-theta", _ge_theta, paper=_PAPER, params=_GATHER, fixed={"variant": "theta"}, needs_feat_size=True,
               summary="depthwise conv gather (global kernel = feature map, or log2(e) 3x3 stride-2 convs) + BN "
                       "-> sigmoid -> nearest resize -> multiply; global extent needs feat_size"),
    BlockEntry("ge-theta-plus", _ge_theta_plus, paper=_PAPER, params=f"{_GATHER}; + 2*C*(C//r) + C//r + C",
               fixed={"variant": "theta-plus"}, needs_feat_size=True,
               summary="ge-theta gather -> ReLU (official) -> SE 1x1 conv MLP C->C/r->C -> sigmoid -> nearest "
                       "resize -> multiply; global extent needs feat_size"),
)
