"""CIFAR DenseNet-BC-100 (k = 12) and DenseNet-BC-190 (k = 40) (Huang et al., CVPR 2017).

The MS-SAR paper's Table 1: a 3×3 stem of 2k channels, three dense blocks of (depth − 4) / 6
bottleneck layers (BN-ReLU-1×1 conv to 4k, BN-ReLU-3×3 conv to k) at 32, 16, 8 px, transitions
(BN-ReLU-1×1 conv halving the channels, 2×2 average pool), then BN-ReLU, global pool and FC.
0.80M and 25.6M parameters for CIFAR-10.

Recalibration (MS-SAR paper §3.4, Fig. 2 right) is applied to each layer's k new channels
before they are concatenated to the main vector:

* ``recalibration="single-stage"`` (the default for every block but MS-SAR; works with any
  block): the gate is computed from the new channels themselves, ``block(new)``;
* ``recalibration="multi-stage"``: the gate is computed from the layer's input, the main vector
  of ``C_in`` channels, ``block(new, source=x)``; the block is built with
  ``source_channels=C_in``. The paper's DN* rows use this mode (it reports 0.99M for DN-100*;
  how much the block adds depends on its hidden width, see ``ms-sar``), so it is MS-SAR's
  default here, with the paper's D' = D/3 (``reduction=1``): see
  :mod:`recalib.models.block_defaults`.

Stages 1–3 are the three dense blocks.
"""
from __future__ import annotations

import torch
from torch import nn

from recalib.entries import ArchEntry
from recalib.errors import ConfigError
from recalib.models._insertion import BlockFactory
from recalib.models._layers import (Backbone, Size, batch_norm, check_input_size, classifier, conv2d, out_size,
                                    stage_factories)

__all__ = ["DenseNet", "DenseLayer", "build_densenet", "ENTRIES"]

CIFAR_SIZE: Size = (32, 32)
_MODES = ("single-stage", "multi-stage")


class DenseLayer(nn.Module):
    """``(N, C_in, H, W) → (N, C_in + k, H, W)``: k new channels, recalibrated, concatenated."""

    def __init__(self, in_channels: int, growth: int, feat_size: Size, block: BlockFactory, multi_stage: bool) -> None:
        super().__init__()
        self.bn1, self.conv1 = batch_norm(in_channels), conv2d(in_channels, 4 * growth, 1)
        self.bn2, self.conv2 = batch_norm(4 * growth), conv2d(4 * growth, growth, 3)
        self.relu = nn.ReLU(inplace=True)
        source = in_channels if multi_stage else None
        self.recal = block(growth, feat_size=feat_size, source_channels=source)
        self.multi_stage = multi_stage and not isinstance(self.recal, nn.Identity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        new = self.conv1(self.relu(self.bn1(x)))
        new = self.conv2(self.relu(self.bn2(new)))
        new = self.recal(new, source=x) if self.multi_stage else self.recal(new)
        return torch.cat([x, new], 1)


def _transition(in_channels: int, out_channels: int) -> nn.Sequential:
    """BN-ReLU-1×1 conv-2×2 average pool: ``(N, C_in, H, W) → (N, C_out, H/2, W/2)`` (floor)."""
    return nn.Sequential(batch_norm(in_channels), nn.ReLU(inplace=True), conv2d(in_channels, out_channels, 1),
                         nn.AvgPool2d(2))


class DenseNet(Backbone):
    """``(N, 3, H, W) → (N, num_classes)``; dense blocks ``dense1``…``dense3``, transitions ``trans1``, ``trans2``."""

    dense1: nn.Sequential
    dense2: nn.Sequential
    dense3: nn.Sequential
    trans1: nn.Sequential
    trans2: nn.Sequential

    def __init__(self, growth: int, layers_per_block: int, factories: list[BlockFactory], *, multi_stage: bool,
                 num_classes: int, input_size: Size) -> None:
        super().__init__(input_size, in_channels=3)
        channels, size = 2 * growth, input_size
        self.conv1 = conv2d(3, channels, 3)
        for index, factory in enumerate(factories):
            if index > 0:
                setattr(self, f"trans{index}", _transition(channels, channels // 2))
                channels, size = channels // 2, out_size(size, 2, 2, 0)
            layers = []
            for _ in range(layers_per_block):
                layers.append(DenseLayer(channels, growth, size, factory, multi_stage))
                channels += growth
            setattr(self, f"dense{index + 1}", nn.Sequential(*layers))
        self.head = nn.Sequential(batch_norm(channels), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1))
        self.fc = classifier(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.dense1(self.conv1(x))
        x = self.dense3(self.trans2(self.dense2(self.trans1(x))))
        return self.fc(torch.flatten(self.head(x), 1))


def build_densenet(*, block: BlockFactory, stages: frozenset[int] | None, depth: int, growth: int,
                   recalibration: str = "single-stage", num_classes: int = 10,
                   input_size: Size = CIFAR_SIZE) -> DenseNet:
    """DenseNet-BC-``depth`` with growth rate ``growth`` (depth = 6n + 4, n layers per dense block)."""
    arch = f"densenet_bc{depth}"
    n, rest = divmod(depth - 4, 6)
    if rest or n < 1:
        raise ConfigError(f"{arch}: DenseNet-BC depth must be 6n + 4 for a positive integer n, got {depth}")
    if recalibration not in _MODES:
        raise ConfigError(f"{arch}: recalibration must be one of {', '.join(_MODES)}, got {recalibration!r}")
    multi_stage = recalibration == "multi-stage"
    if multi_stage and block.name is not None and not block.accepts("source_channels"):
        raise ConfigError(f"{arch}: block {block.name!r} cannot compute its gate from another tensor (it takes "
                          f"no source_channels), so multi-stage recalibration is impossible; use "
                          f"recalibration='single-stage' or a block that supports it (ms-sar)")
    block.require_plain(arch, "dense layers concatenate their output instead of adding an identity")
    factories = stage_factories(block, stages, 3, arch)
    model = DenseNet(growth, n, factories, multi_stage=multi_stage, num_classes=num_classes,
                     input_size=check_input_size(input_size, arch))
    model.bind_if_blocks_fixed(block)
    return model


_PAPER = "Huang et al., Densely Connected Convolutional Networks (CVPR 2017)"
#: This family's registry entries (:data:`recalib.models.catalog.MODELS` adds them).
ENTRIES: tuple[ArchEntry, ...] = tuple(
    ArchEntry(f"densenet_bc{depth}", build_densenet, paper=_PAPER, input_size=CIFAR_SIZE, dataset="cifar",
              summary=f"CIFAR DenseNet-BC-{depth}, growth {growth}", fixed={"depth": depth, "growth": growth})
    for depth, growth in ((100, 12), (190, 40)))
