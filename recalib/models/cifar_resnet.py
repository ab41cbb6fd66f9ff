"""CIFAR residual networks: original and pre-activation ResNets, and Wide ResNets.

One class, three unit types, three stages of widths ``(16, 32, 64) × widen`` at 32, 16, 8 px:

* original ResNet-20/32/56/110 (He et al., CVPR 2016, §4.2): post-activation basic units,
  parameter-free option-A shortcuts (subsample + zero channels), as in the paper's CIFAR
  experiments; the MS-SAR paper's Table 1 backbones (0.27M / 0.46M / 0.85M). ``shortcut="B"``
  builds the paper's option B instead (a 1×1 projection + BN where the shape changes, its
  ImageNet choice): +2,752 parameters and +262,144 multiply-adds on every depth;
* pre-activation ResNet-20/32/56/110 (basic) and -164 (bottleneck, expansion 4)
  (He et al., ECCV 2016; units in :mod:`recalib.models.preact_units`): BN-ReLU-conv units with
  1×1 projection shortcuts applied to the pre-activated input where the shape changes, as in
  the official code; the CMPE-SE and GE papers' ResNet-110/164 (1.7M);
* Wide ResNets WRN-16-8, WRN-22-10, WRN-28-10 (Zagoruyko & Komodakis, BMVC 2016): pre-activation
  basic units widened by k, (depth − 4) / 6 units per stage (11.0M, 26.8M, 36.5M); optional
  ``dropout`` between the convs (no parameters; the papers' tables do not depend on it). The
  CMPE-SE folded view folds by rows on WRNs (``fold_rows=20``; 16 on WRN-16-8), the paper's WRN
  setting (:mod:`recalib.models.block_defaults`).

Recalibration sits in the residual branch before the sum: after ``bn2`` of an original basic
unit, after the last conv of a pre-activation unit. CMPE-SE receives the identity (after the
projection, or after the option-A padding). Bottlenecks pass their inner width as ``width``.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from recalib.entries import ArchEntry
from recalib.errors import ConfigError
from recalib.models._insertion import BlockFactory, recalibrate_residual
from recalib.models._layers import (Backbone, Size, batch_norm, check_input_size, classifier, conv2d, out_size,
                                    projection_shortcut, stage_factories)
from recalib.models.preact_units import PreActBottleneck, PreActUnit

__all__ = ["CifarResNet", "BasicUnit", "PreActUnit", "PreActBottleneck",
           "build_cifar_resnet", "build_preact_resnet", "build_wrn", "ENTRIES"]

CIFAR_SIZE: Size = (32, 32)
Shortcut = Literal["A", "B"]


class PadShortcut(nn.Module):
    """Option-A shortcut: ``x[:, :, ::s, ::s]`` with zero channels appended up to ``out_channels``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.extra, self.stride = out_channels - in_channels, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, 0, self.extra))


class BasicUnit(nn.Module):
    """Original unit: conv-BN-ReLU-conv-BN, ``recal``, + shortcut, ReLU. ``(N, C_in, H, W) → (N, C, H/s, W/s)``.

    ``shortcut`` is He et al.'s option ``"A"`` (zero-padding) or ``"B"`` (projection) where the shape changes.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int, feat_size: Size, block: BlockFactory,
                 *, shortcut: Shortcut = "A") -> None:
        super().__init__()
        self.conv1, self.bn1 = conv2d(in_channels, channels, 3, stride), batch_norm(channels)
        self.conv2, self.bn2 = conv2d(channels, channels, 3), batch_norm(channels)
        self.relu = nn.ReLU(inplace=True)
        same = stride == 1 and in_channels == channels
        self.shortcut = (projection_shortcut(in_channels, channels, stride) if shortcut == "B"
                         else nn.Identity() if same else PadShortcut(in_channels, channels, stride))
        self.recal = block(channels, feat_size=feat_size, width=channels)
        self.takes_identity = block.takes_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(recalibrate_residual(self.recal, self.takes_identity, out, self.shortcut(x)))


Unit = Callable[..., nn.Module]  # (in_channels, width, stride, feat_size, block) -> unit


class CifarResNet(Backbone):
    """3×3 conv stem (16 ch), three stages (strides 1, 2, 2), global average pool, FC.

    ``(N, 3, H, W) → (N, num_classes)``. Pre-activation nets end with BN-ReLU before pooling;
    the original net has BN-ReLU in the stem instead.
    """

    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential

    def __init__(self, unit: Unit, expansion: int, units_per_stage: int, widths: tuple[int, int, int],
                 factories: list[BlockFactory], *, num_classes: int, input_size: Size, preact: bool) -> None:
        super().__init__(input_size, in_channels=3)
        self.conv1 = conv2d(3, 16, 3)
        self.stem = nn.Identity() if preact else nn.Sequential(batch_norm(16), nn.ReLU(inplace=True))
        size, channels = input_size, 16
        for index, (width, factory) in enumerate(zip(widths, factories)):
            units = []
            for u in range(units_per_stage):
                stride = 2 if index > 0 and u == 0 else 1
                size = out_size(size, 3, stride, 1)
                units.append(unit(channels, width, stride, size, factory))
                channels = width * expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*units))
        self.head = nn.Sequential(batch_norm(channels), nn.ReLU(inplace=True)) if preact else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = classifier(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(self.conv1(x))
        x = self.head(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _build(arch: str, unit: type[BasicUnit] | type[PreActUnit] | type[PreActBottleneck], units_per_stage: int,
           widths: tuple[int, int, int], block: BlockFactory, stages: frozenset[int] | None, num_classes: int,
           input_size: Size, dropout: float = 0.0, shortcut: Shortcut = "A") -> CifarResNet:
    factories = stage_factories(block, stages, 3, arch)
    make: Unit = (partial(PreActUnit, dropout=dropout) if unit is PreActUnit
                  else partial(BasicUnit, shortcut=shortcut) if unit is BasicUnit else unit)
    model = CifarResNet(make, unit.expansion, units_per_stage, widths, factories, num_classes=num_classes,
                        input_size=check_input_size(input_size, arch), preact=unit is not BasicUnit)
    model.bind_if_blocks_fixed(block)
    return model


def _units(depth: int, per_unit: int, offset: int, arch: str, rule: str) -> int:
    """Units per stage from ``depth = 3 · per_unit · n + offset``."""
    n, rest = divmod(depth - offset, 3 * per_unit)
    if rest or n < 1:
        raise ConfigError(f"{arch}: depth {depth} is not {rule} for a positive integer n")
    return n


def build_cifar_resnet(*, block: BlockFactory, stages: frozenset[int] | None, depth: int, num_classes: int = 10,
                       input_size: Size = CIFAR_SIZE, shortcut: Shortcut = "A") -> CifarResNet:
    """Original CIFAR ResNet-``depth`` (depth = 6n + 2), basic units, option-A shortcuts (``shortcut="B"``: projections)."""
    arch = f"cifar_resnet{depth}"
    n = _units(depth, 2, 2, arch, "6n + 2")
    return _build(arch, BasicUnit, n, (16, 32, 64), block, stages, num_classes, input_size, shortcut=shortcut)


def build_preact_resnet(*, block: BlockFactory, stages: frozenset[int] | None, depth: int,
                        bottleneck: bool, num_classes: int = 10, input_size: Size = CIFAR_SIZE) -> CifarResNet:
    """Pre-activation ResNet-``depth``: basic (6n + 2) or bottleneck (9n + 2, widths 16/32/64 ×4 out)."""
    arch = f"preact_resnet{depth}"
    n = _units(depth, 3, 2, arch, "9n + 2") if bottleneck else _units(depth, 2, 2, arch, "6n + 2")
    unit = PreActBottleneck if bottleneck else PreActUnit
    return _build(arch, unit, n, (16, 32, 64), block, stages, num_classes, input_size)


def build_wrn(*, block: BlockFactory, stages: frozenset[int] | None, depth: int, widen: int,
              num_classes: int = 10, input_size: Size = CIFAR_SIZE, dropout: float = 0.0) -> CifarResNet:
    """WRN-``depth``-``widen``: (depth − 4) / 6 pre-activation units per stage, widths 16k/32k/64k.

    ``dropout`` sits between each unit's two convs (the WRN paper's 0.3 for CIFAR); it has no
    parameters and no FLOPs, and is off by default, as in the papers' tables.
    """
    arch = f"wrn{depth}_{widen}"
    if not isinstance(widen, int) or widen < 1:
        raise ConfigError(f"{arch}: widen must be a positive int, got {widen!r}")
    n = _units(depth, 2, 4, arch, "6n + 4")
    return _build(arch, PreActUnit, n, (16 * widen, 32 * widen, 64 * widen), block, stages, num_classes, input_size,
                  dropout=dropout)


_ORIGINAL = "He et al., Deep Residual Learning (CVPR 2016)"
_PREACT = "He et al., Identity Mappings in Deep Residual Networks (ECCV 2016)"
_WRN = "Zagoruyko & Komodakis, Wide Residual Networks (BMVC 2016)"
#: This family's registry entries (:data:`recalib.models.catalog.MODELS` adds them).
ENTRIES: tuple[ArchEntry, ...] = (
    *(ArchEntry(f"cifar_resnet{depth}", build_cifar_resnet, paper=_ORIGINAL, input_size=CIFAR_SIZE, dataset="cifar",
                summary=f"CIFAR ResNet-{depth}, original post-activation, option-A shortcuts",
                fixed={"depth": depth})
      for depth in (20, 32, 56, 110)),
    *(ArchEntry(f"preact_resnet{depth}", build_preact_resnet, paper=_PREACT, input_size=CIFAR_SIZE, dataset="cifar",
                summary=f"CIFAR pre-activation ResNet-{depth}, basic units",
                fixed={"depth": depth, "bottleneck": False})
      for depth in (20, 32, 56, 110)),
    ArchEntry("preact_resnet164", build_preact_resnet, paper=_PREACT, input_size=CIFAR_SIZE, dataset="cifar",
              summary="CIFAR pre-activation ResNet-164, bottleneck units",
              fixed={"depth": 164, "bottleneck": True}),
    *(ArchEntry(f"wrn{depth}_{widen}", build_wrn, paper=_WRN, input_size=CIFAR_SIZE, dataset="cifar",
                summary=f"CIFAR Wide ResNet-{depth}-{widen}, pre-activation",
                fixed={"depth": depth, "widen": widen})
      for depth, widen in ((16, 8), (22, 10), (28, 10))),
)
