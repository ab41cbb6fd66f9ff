"""ShuffleNet v1 1× with g = 3 groups (Zhang et al., CVPR 2018), as measured in the GE paper's Table 4.

Stem: 3×3/2 conv to 24 channels, BN, ReLU, 3×3/2 max-pool. Stages 1–3 (the ShuffleNet paper's
Stage2–Stage4) have 4, 8, 4 units and 240, 480, 960 output channels at 28, 14, 7 px (224
input). A unit is 1×1 group conv (bottleneck = output / 4; not grouped in the very first unit,
whose input has only 24 channels) - BN - ReLU - channel shuffle - 3×3 depthwise conv - BN -
1×1 group conv - BN. Stride-1 units add the input; the first unit of each stage (stride 2)
concatenates a 3×3/2 average-pooled input, so its branch produces ``out − in`` channels. ReLU
follows the sum or concatenation. Global pool, FC. About 1.9M parameters.

Recalibration sits on the residual branch after its last BN, before the sum or concatenation,
as the GE paper places it in every building block. Evidence from its Table 4 (totals counting BN
running statistics, as Caffe stores them; the baseline is 1.89M): on the branch, SE gives 2.51M
(paper 2.5M) and GE-θ E2/E4/E8 1.99/2.10/2.20M (2.0/2.1/2.2M), but global GE-θ 3.53M (3.6M) and
GE-θ⁺ 4.15M (4.4M). A block on the merged output instead would give 3.62M for GE-θ but 2.62M for
SE and 4.35M for GE-θ⁺, so no single placement reproduces the whole table; the branch is the one
the paper describes. CMPE-SE needs an identity of the branch's shape, which the concatenating
units do not have, so it is rejected here.
"""
from __future__ import annotations

import torch
from torch import nn

from recalib.entries import ArchEntry
from recalib.errors import ConfigError
from recalib.models._insertion import BlockFactory
from recalib.models._layers import (Backbone, Size, batch_norm, check_input_size, classifier, conv2d, out_size,
                                    stage_factories)

__all__ = ["ShuffleNetV1", "ShuffleUnit", "build_shufflenet_v1", "ENTRIES"]

IMAGENET_SIZE: Size = (224, 224)
_STEM = 24
_UNITS = (4, 8, 4)
_WIDTHS = {3: (240, 480, 960)}  # the ShuffleNet paper's Table 1, 1× and g = 3


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """``(N, g·c, H, W)``: interleave the groups' channels so the next group conv mixes them."""
    return x.unflatten(1, (groups, -1)).transpose(1, 2).flatten(1, 2)


class ShuffleUnit(nn.Module):
    """``(N, C_in, H, W) → (N, C_out, H/s, W/s)``; the block sees the branch output before the merge."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, groups: int, group_first: bool,
                 feat_size: Size, block: BlockFactory) -> None:
        super().__init__()
        mid = out_channels // 4
        branch = out_channels - in_channels if stride == 2 else out_channels
        self.groups, self.stride = groups, stride
        self.conv1, self.bn1 = conv2d(in_channels, mid, 1, groups=groups if group_first else 1), batch_norm(mid)
        self.conv2, self.bn2 = conv2d(mid, mid, 3, stride, groups=mid), batch_norm(mid)
        self.conv3, self.bn3 = conv2d(mid, branch, 1, groups=groups), batch_norm(branch)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()
        self.recal = block(branch, feat_size=feat_size, width=mid)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = channel_shuffle(self.relu(self.bn1(self.conv1(x))), self.groups)
        out = self.bn3(self.conv3(self.bn2(self.conv2(out))))
        if self.stride == 2:
            return self.relu(torch.cat([self.pool(x), self.recal(out)], 1))
        return self.relu(self.recal(out) + x)


class ShuffleNetV1(Backbone):
    """``(N, 3, H, W) → (N, num_classes)``; stages are ``stage1``…``stage3``."""

    stage1: nn.Sequential
    stage2: nn.Sequential
    stage3: nn.Sequential

    def __init__(self, groups: int, factories: list[BlockFactory], *, num_classes: int, input_size: Size) -> None:
        super().__init__(input_size, in_channels=3)
        self.stem = nn.Sequential(conv2d(3, _STEM, 3, 2), batch_norm(_STEM), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        size, channels = out_size(out_size(input_size, 3, 2, 1), 3, 2, 1), _STEM
        for index, (count, width, factory) in enumerate(zip(_UNITS, _WIDTHS[groups], factories)):
            units = []
            for u in range(count):
                stride = 2 if u == 0 else 1
                size = out_size(size, 3, stride, 1)
                units.append(ShuffleUnit(channels, width, stride, groups, group_first=channels != _STEM,
                                         feat_size=size, block=factory))
                channels = width
            setattr(self, f"stage{index + 1}", nn.Sequential(*units))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = classifier(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build_shufflenet_v1(*, block: BlockFactory, stages: frozenset[int] | None, groups: int,
                        num_classes: int = 1000, input_size: Size = IMAGENET_SIZE) -> ShuffleNetV1:
    """ShuffleNet v1 1× with ``groups`` pointwise groups (only g = 3 is tabulated by the papers here)."""
    arch = f"shufflenet_v1_g{groups}"
    if groups not in _WIDTHS:
        raise ConfigError(f"{arch}: ShuffleNet v1 1x is built for groups in {sorted(_WIDTHS)}, got {groups}")
    block.require_plain(arch, "ShuffleNet's downsampling units concatenate instead of adding")
    factories = stage_factories(block, stages, 3, arch)
    model = ShuffleNetV1(groups, factories, num_classes=num_classes, input_size=check_input_size(input_size, arch))
    model.bind_if_blocks_fixed(block)
    return model


#: This family's registry entries (:data:`recalib.models.catalog.MODELS` adds them).
ENTRIES: tuple[ArchEntry, ...] = (
    ArchEntry("shufflenet_v1_g3", build_shufflenet_v1, input_size=IMAGENET_SIZE, dataset="imagenet",
              paper="Zhang et al., ShuffleNet (CVPR 2018)", summary="ImageNet ShuffleNet v1 1x, g = 3",
              fixed={"groups": 3}),
)
