"""ImageNet ResNet-18/34/50/101/152 (He et al., CVPR 2016), ResNeXt-50 32×4d (Xie et al., CVPR 2017)
and the pre-activation ResNets of the same depths (He et al., ECCV 2016; the CMPE-SE paper's
ImageNet backbone is the pre-activation ResNet-50, ``preact_resnet50_imagenet``).

One class for all: basic or bottleneck units, ``groups``/``width_per_group`` for ResNeXt,
pre-activation units with ``preact``.
Module names follow torchvision (``conv1``, ``layer1.0.conv2``, ``downsample.0``, ``fc``), so
torchvision's baseline weights load with ``strict=False`` (the blocks' keys are extra).

Recalibration (SE, GE, MS-SAR, CMPE-SE papers) sits in the residual branch before the sum:
after the second conv+BN of a basic unit, after the last conv+BN of a bottleneck. CMPE-SE
blocks also receive the identity, taken after the projection shortcut. (MS-SAR's "after the
second conv" is the last conv of a basic unit; for ResNeXt-50 its Table 5 SE total, 27.5M,
matches SE after the last 1×1 conv, 27.56M, not after the grouped 3×3, 25.7M.) Stages 1–4 are
conv2_x … conv5_x (the GE paper's Table 1 calls them "stage2" … "stage5"). Feature sizes at
224×224: 56, 28, 14, 7.

MS-SAR takes its ImageNet ratio ``reduction=16`` on all of these (MS-SAR Table 5;
:mod:`recalib.models.block_defaults`).

``stride_in_1x1=True`` puts a downsampling bottleneck's stride in its first 1×1 conv, the
original Caffe layout the SE and GE papers measured (3.86 GMACs for ResNet-50); the default is
torchvision's (stride in the 3×3, 4.09 GMACs). Parameters are identical. Basic units have no
1×1 conv, so both layouts coincide for ResNet-18/34.
"""
from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import nn

from recalib.entries import ArchEntry
from recalib.errors import ConfigError
from recalib.models._insertion import BlockFactory, recalibrate_residual
from recalib.models._layers import (Backbone, Size, batch_norm, check_input_size, classifier, conv2d, out_size,
                                    projection_shortcut, stage_factories)
from recalib.models.preact_units import PreActBottleneck, PreActUnit

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "build_resnet", "build_preact_resnet_imagenet", "ENTRIES"]

IMAGENET_SIZE: Size = (224, 224)
_LAYERS = {18: ("basic", (2, 2, 2, 2)), 34: ("basic", (3, 4, 6, 3)), 50: ("bottleneck", (3, 4, 6, 3)),
           101: ("bottleneck", (3, 4, 23, 3)), 152: ("bottleneck", (3, 8, 36, 3))}


class BasicBlock(nn.Module):
    """Two 3×3 convs: ``(N, C_in, H, W) → (N, planes, H/s, W/s)``; block after ``bn2``."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int, feat_size: Size, block: BlockFactory,
                 *, zero_init: bool = False) -> None:
        super().__init__()
        self.conv1, self.bn1 = conv2d(in_channels, planes, 3, stride), batch_norm(planes)
        self.conv2, self.bn2 = conv2d(planes, planes, 3), batch_norm(planes, zero_init)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = projection_shortcut(in_channels, planes, stride)
        self.recal = block(planes, feat_size=feat_size, width=planes)
        self.takes_identity = block.takes_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(recalibrate_residual(self.recal, self.takes_identity, out, self.downsample(x)))


class Bottleneck(nn.Module):
    """1×1 → 3×3 (grouped for ResNeXt) → 1×1 ×4: ``(N, C_in, H, W) → (N, 4·planes, H/s, W/s)``.

    The inner width is ``planes · width_per_group / 64 · groups`` (torchvision's rule; 64 and 1
    give plain ResNet). The block sits after ``bn3`` and is told that inner width as ``width``.
    """

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int, feat_size: Size, block: BlockFactory,
                 *, zero_init: bool = False, groups: int = 1, width_per_group: int = 64,
                 stride_in_1x1: bool = False) -> None:
        super().__init__()
        width = int(planes * width_per_group / 64) * groups
        out_channels = planes * self.expansion
        stride_1x1, stride_3x3 = (stride, 1) if stride_in_1x1 else (1, stride)
        self.conv1, self.bn1 = conv2d(in_channels, width, 1, stride_1x1), batch_norm(width)
        self.conv2, self.bn2 = conv2d(width, width, 3, stride_3x3, groups), batch_norm(width)
        self.conv3, self.bn3 = conv2d(width, out_channels, 1), batch_norm(out_channels, zero_init)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = projection_shortcut(in_channels, out_channels, stride)
        self.recal = block(out_channels, feat_size=feat_size, width=width)
        self.takes_identity = block.takes_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(recalibrate_residual(self.recal, self.takes_identity, out, self.downsample(x)))


class ResNet(Backbone):
    """Stem (7×7/2 conv-BN-ReLU, 3×3/2 max-pool), four stages of units, global average pool, FC.

    ``(N, 3, H, W) → (N, num_classes)``. ``unit(in_channels, planes, stride, feat_size, block)``
    builds one unit of ``expansion · planes`` output channels. With ``preact`` (pre-activation
    units) the net ends with BN-ReLU before the pooling, and the first unit is built with
    ``preactivate=False``: the stem has just applied BN-ReLU (the official pre-activation
    ImageNet nets' "no_preact" first unit).
    """

    layer1: nn.Sequential
    layer2: nn.Sequential
    layer3: nn.Sequential
    layer4: nn.Sequential

    def __init__(self, unit: Callable[..., nn.Module], expansion: int, layers: tuple[int, ...],
                 factories: list[BlockFactory], *, num_classes: int, input_size: Size,
                 preact: bool = False) -> None:
        super().__init__(input_size, in_channels=3)
        self.conv1, self.bn1 = conv2d(3, 64, 7, 2), batch_norm(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        size = out_size(out_size(input_size, 7, 2, 3), 3, 2, 1)
        channels = 64
        for index, (count, factory) in enumerate(zip(layers, factories)):
            planes, first_stride = 64 * 2**index, 1 if index == 0 else 2
            units = []
            for u in range(count):
                stride = first_stride if u == 0 else 1
                size = out_size(size, 3, stride, 1)  # 3×3/s pad 1 and 1×1/s pad 0 agree
                first = {"preactivate": False} if preact and index == 0 and u == 0 else {}
                units.append(unit(channels, planes, stride, size, factory, **first))
                channels = planes * expansion
            setattr(self, f"layer{index + 1}", nn.Sequential(*units))
        self.head = nn.Sequential(batch_norm(channels), nn.ReLU(inplace=True)) if preact else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = classifier(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.head(self.layer4(self.layer3(self.layer2(self.layer1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def build_resnet(*, block: BlockFactory, stages: frozenset[int] | None, depth: int, num_classes: int = 1000,
                 input_size: Size = IMAGENET_SIZE, stride_in_1x1: bool = False, groups: int = 1,
                 width_per_group: int = 64, zero_init_residual: bool = False) -> ResNet:
    """ImageNet ResNet-``depth`` (18/34/50/101/152); ``groups``/``width_per_group`` make ResNeXt.

    ``zero_init_residual`` zeroes each residual branch's last BN (off by default, as in the papers).
    """
    arch = f"resnet{depth}"
    if depth not in _LAYERS:
        raise ConfigError(f"no ImageNet ResNet of depth {depth}; choose one of {sorted(_LAYERS)}")
    kind, layers = _LAYERS[depth]
    if kind == "basic" and (groups != 1 or width_per_group != 64):
        raise ConfigError(f"{arch} has basic units: groups and width_per_group apply to bottlenecks "
                          f"(ResNet-50 and deeper) only")
    input_size = check_input_size(input_size, arch)
    factories = stage_factories(block, stages, len(layers), arch)
    unit: Callable[..., nn.Module] = partial(BasicBlock, zero_init=zero_init_residual) if kind == "basic" else partial(
        Bottleneck, zero_init=zero_init_residual, groups=groups, width_per_group=width_per_group,
        stride_in_1x1=stride_in_1x1)
    expansion = BasicBlock.expansion if kind == "basic" else Bottleneck.expansion
    model = ResNet(unit, expansion, layers, factories, num_classes=num_classes, input_size=input_size)
    model.bind_if_blocks_fixed(block)
    return model


def build_preact_resnet_imagenet(*, block: BlockFactory, stages: frozenset[int] | None, depth: int,
                                 num_classes: int = 1000, input_size: Size = IMAGENET_SIZE) -> ResNet:
    """ImageNet pre-activation ResNet-``depth`` (He et al., ECCV 2016), the CMPE-SE paper's Table 4 backbone.

    The stages of :func:`build_resnet` with :mod:`~recalib.models.preact_units` (stride in the
    3×3 conv, projection shortcuts without BN on the pre-activated input), a BN-ReLU head, and a
    first unit that does not pre-activate again after the stem. Recalibration sits after each
    unit's last conv, before the sum; CMPE-SE also receives the identity.
    """
    arch = f"preact_resnet{depth}_imagenet"
    if depth not in _LAYERS:
        raise ConfigError(f"no ImageNet pre-activation ResNet of depth {depth}; choose one of {sorted(_LAYERS)}")
    kind, layers = _LAYERS[depth]
    unit = PreActUnit if kind == "basic" else PreActBottleneck
    model = ResNet(unit, unit.expansion, layers, stage_factories(block, stages, len(layers), arch),
                   num_classes=num_classes, input_size=check_input_size(input_size, arch), preact=True)
    model.bind_if_blocks_fixed(block)
    return model


_PAPERS = "He et al., Deep Residual Learning (CVPR 2016)"
#: This family's registry entries (:data:`recalib.models.catalog.MODELS` adds them).
ENTRIES: tuple[ArchEntry, ...] = (
    *(ArchEntry(f"resnet{depth}", build_resnet, paper=_PAPERS, input_size=IMAGENET_SIZE, dataset="imagenet",
                summary=f"ImageNet ResNet-{depth} ({kind} units)", fixed={"depth": depth})
      for depth, (kind, _) in sorted(_LAYERS.items())),
    *(ArchEntry(f"preact_resnet{depth}_imagenet", build_preact_resnet_imagenet,
                paper="He et al., Identity Mappings in Deep Residual Networks (ECCV 2016)",
                input_size=IMAGENET_SIZE, dataset="imagenet", fixed={"depth": depth},
                summary=f"ImageNet pre-activation ResNet-{depth} ({kind} units)")
      for depth, (kind, _) in sorted(_LAYERS.items())),
    ArchEntry("resnext50_32x4d", build_resnet, paper="Xie et al., Aggregated Residual Transformations (CVPR 2017)",
              input_size=IMAGENET_SIZE, dataset="imagenet", summary="ImageNet ResNeXt-50, 32 groups x 4d",
              fixed={"depth": 50, "groups": 32, "width_per_group": 4}),
)
