"""RegNetY-800MF (Radosavovic et al., "Designing Network Design Spaces", CVPR 2020), with the
squeeze-and-excitation gate of every unit as its insertion point.

Layout: a 3×3/2 stem conv to 32 channels, four stages of residual bottleneck units (1, 3, 8, 2
units of widths 64, 144, 320, 784, group width 16, bottleneck ratio 1, the first unit of each
stage with stride 2), global average pooling and the classifier. A unit (the paper's "Y block",
its Sec. 5: X block + SE) is a 1×1 conv - BN - ReLU, a 3×3 group conv (stride s, groups =
width / 16) - BN - ReLU, the gate, a 1×1 conv - BN, plus the input (projected by a 1×1 conv -
BN where the shape changes), then ReLU. The widths follow from the paper's parameters for this
model (d = 14, w0 = 56, wa = 38.84, wm = 2.4, g = 16): block widths quantised to 56, 136, 320,
776, then made multiples of the group width.

That last step is where the references differ, and ``rounding`` chooses: torchvision rounds the
halves 136/16 = 8.5 and 776/16 = 48.5 up (64, 144, 320, 784; 6,432,512 parameters, its
``RegNet_Y_800MF_Weights`` table; the default), pycls rounds them to even (``round``: 64, 128,
320, 768; 6,263,168 parameters, the 6.3M of the paper's model table, pycls's MODEL_ZOO and
timm's ``regnety_008``).

The native gate, in every unit after the group conv, is SE with ReLU, a sigmoid and a hidden
width of a quarter of the *unit's input* channels (``round(w_in · 0.25)``): recalib's ``se`` with
``reduction=4, hidden_from="unit-input"``. ``regnet_y_800mf+none`` is RegNetX-style (no gate);
``regnet_y_800mf+BLOCK`` puts ``BLOCK`` in its places.

At 224×224 with torchvision's widths: 6,432,512 parameters, 846,168 of them in the gates, and
833.9 M multiply-adds of convolutions and the classifier (``mac``, 0.8 M in the gates;
torchvision's 0.834 "GFLOPS"). With pycls's: 6,263,168 and 797.2 M, the paper's 6.3M and 0.8 GF
(pycls's ``complexity`` counts conv and linear multiply-adds as flops, BN affine parameters as
parameters, exactly as ``mac`` and ``params`` do).
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from recalib.entries import ArchEntry, NativeBlock
from recalib.models._insertion import BlockFactory
from recalib.models._layers import (Backbone, Size, check_input_size, classifier, conv_norm, out_size,
                                    projection_shortcut, stage_factories)

__all__ = ["RegNet", "RegNetUnit", "build_regnet_y_800mf", "ENTRIES"]

IMAGENET_SIZE: Size = (224, 224)
Rounding = Literal["torchvision", "pycls"]
_STEM, _GROUP_WIDTH, _DEPTHS = 32, 16, (1, 3, 8, 2)
_WIDTHS: dict[str, tuple[int, ...]] = {"torchvision": (64, 144, 320, 784), "pycls": (64, 128, 320, 768)}
_NO_IDENTITY = ("the gate point sits inside the bottleneck branch, after the group conv, where no identity of the "
                "gated map's shape exists")


class RegNetUnit(nn.Module):
    """``(N, C_in, H, W) → (N, C_out, H/s, W/s)``; the gate (``recal``) sees the group conv's output."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, feat_size: Size, block: BlockFactory) -> None:
        super().__init__()
        self.a = conv_norm(in_channels, out_channels, 1, act=nn.ReLU)
        self.b = conv_norm(out_channels, out_channels, 3, stride, out_channels // _GROUP_WIDTH, act=nn.ReLU)
        self.recal = block(out_channels, feat_size=feat_size, unit_channels=in_channels)
        self.c = conv_norm(out_channels, out_channels, 1)
        self.shortcut = projection_shortcut(in_channels, out_channels, stride)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.shortcut(x) + self.c(self.recal(self.b(self.a(x)))))


class RegNet(Backbone):
    """``(N, 3, H, W) → (N, num_classes)``: stem, ``stages`` (four of :class:`RegNetUnit`), classifier."""

    def __init__(self, widths: tuple[int, ...], factories: list[BlockFactory], *, num_classes: int,
                 input_size: Size) -> None:
        super().__init__(input_size, in_channels=3)
        self.stem = conv_norm(3, _STEM, 3, 2, act=nn.ReLU)
        size, channels, stages = out_size(input_size, 3, 2, 1), _STEM, []
        for depth, width, factory in zip(_DEPTHS, widths, factories):
            units = []
            for index in range(depth):
                stride = 2 if index == 0 else 1
                size = out_size(size, 3, stride, 1)
                units.append(RegNetUnit(channels, width, stride, size, factory))
                channels = width
            stages.append(nn.Sequential(*units))
        self.stages = nn.Sequential(*stages)
        self.fc = classifier(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.fc(self.stages(self.stem(x)).mean((2, 3)))


def build_regnet_y_800mf(*, block: BlockFactory, stages: frozenset[int] | None, num_classes: int = 1000,
                         input_size: Size = IMAGENET_SIZE, rounding: Rounding = "torchvision") -> RegNet:
    """RegNetY-800MF; ``block`` goes where the paper puts SE (every unit, after the group conv)."""
    arch = "regnet_y_800mf"
    block.require_plain(arch, _NO_IDENTITY)
    model = RegNet(_WIDTHS[rounding], stage_factories(block, stages, len(_DEPTHS), arch), num_classes=num_classes,
                   input_size=check_input_size(input_size, arch))
    model.bind_if_blocks_fixed(block)
    return model


#: This family's registry entries (:data:`recalib.models.catalog.MODELS` adds them).
ENTRIES: tuple[ArchEntry, ...] = (
    ArchEntry("regnet_y_800mf", build_regnet_y_800mf, paper="Radosavovic et al., Designing Network Design Spaces "
              "(CVPR 2020)", input_size=IMAGENET_SIZE, dataset="imagenet",
              summary="ImageNet RegNetY-800MF, SE gates in every unit",
              native=NativeBlock("se", {"reduction": 4, "hidden_from": "unit-input"},
                                 source="RegNetY (Radosavovic et al. 2020, Sec. 5) as pycls and torchvision build it: "
                                        "SE with ratio 1/4 of the unit's input width")),
)
