"""EfficientNet-B0 (Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
ICML 2019), with its squeeze-and-excitation gates as the insertion points.

Layout (the paper's Table 1): a 3×3/2 stem conv to 32 channels, seven stages of inverted
residual units (:mod:`recalib.models.inverted_residual`; MBConv expansion, kernel, channels,
units, stride: 1, 3, 16, 1, 1 / 6, 3, 24, 2, 2 / 6, 5, 40, 2, 2 / 6, 3, 80, 3, 2 / 6, 5, 112, 3, 1
/ 6, 5, 192, 4, 2 / 6, 3, 320, 1, 1), a 1×1 conv to 1280 channels, global average pooling,
dropout 0.2 and the classifier. Every conv is followed by BN and SiLU (Swish), except the
projections. BN keeps PyTorch's defaults, as the PyTorch reference implementations (timm's
``efficientnet_b0``, whose weights torchvision ports) do. Stochastic depth, a training-only
regulariser without parameters, is left out. Stages 1–7 are the paper's stages 2–8.

The native gate, in every unit, is SE with SiLU inside and a hidden width of a quarter of the
*unit's input* channels (``int(in · 0.25)``; the expanded map has 6× as many): recalib's ``se``
with ``reduction=4, hidden_from="unit-input", activation="silu"``. ``efficientnet_b0+none`` has
no gate; ``efficientnet_b0+BLOCK`` puts ``BLOCK`` in its places, after the depthwise conv.

At 224×224: 5,288,548 parameters (torchvision's ``EfficientNet_B0_Weights`` table, from timm;
the paper's Table 2: 5.3M), of which the gates hold 636,540 (4,652,008 without them); 385.8 M
multiply-adds of convolutions and the classifier (``mac``; the paper's 0.39B "FLOPS", which
MnasNet and EfficientNet count as multiply-adds; torchvision's 0.386 "GFLOPS"), 0.63 M of them
in the gates.
"""
from __future__ import annotations

import torch
from torch import nn

from recalib.entries import ArchEntry, NativeBlock
from recalib.models._insertion import BlockFactory
from recalib.models._layers import (Backbone, Size, batch_norm, check_input_size, classifier, conv_norm, out_size,
                                    stage_factories)
from recalib.models.inverted_residual import NO_IDENTITY, Unit, inverted_residual_stages

__all__ = ["EfficientNet", "build_efficientnet_b0", "ENTRIES"]

IMAGENET_SIZE: Size = (224, 224)
_STEM, _HEAD = 32, 1280
# (expansion ratio, kernel, output channels, units, stride of the first unit): the paper's Table 1
_STAGES = ((1, 3, 16, 1, 1), (6, 3, 24, 2, 2), (6, 5, 40, 2, 2), (6, 3, 80, 3, 2), (6, 5, 112, 3, 1),
           (6, 5, 192, 4, 2), (6, 3, 320, 1, 1))


def _units() -> list[list[Unit]]:
    """Table 1 as units, each with its expanded width (expansion ratio × its input channels)."""
    stages, channels = [], _STEM
    for ratio, kernel, out, count, stride in _STAGES:
        stage = []
        for index in range(count):
            stage.append(Unit(channels * ratio, kernel, stride if index == 0 else 1, out, True, nn.SiLU))
            channels = out
        stages.append(stage)
    return stages


class EfficientNet(Backbone):
    """``(N, 3, H, W) → (N, num_classes)``: stem, ``stages`` (seven of inverted residual units), head, classifier."""

    def __init__(self, factories: list[BlockFactory], *, num_classes: int, input_size: Size) -> None:
        super().__init__(input_size, in_channels=3)
        self.stem = conv_norm(3, _STEM, 3, 2, act=nn.SiLU)
        self.stages, channels = inverted_residual_stages(_units(), factories, _STEM, out_size(input_size, 3, 2, 1),
                                                         batch_norm)
        self.head = conv_norm(channels, _HEAD, 1, act=nn.SiLU)
        self.classifier = nn.Sequential(nn.Dropout(0.2), classifier(_HEAD, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.classifier(self.head(self.stages(self.stem(x))).mean((2, 3)))


def build_efficientnet_b0(*, block: BlockFactory, stages: frozenset[int] | None, num_classes: int = 1000,
                          input_size: Size = IMAGENET_SIZE) -> EfficientNet:
    """EfficientNet-B0; ``block`` goes where the paper puts SE (every unit, after the depthwise conv)."""
    arch = "efficientnet_b0"
    block.require_plain(arch, NO_IDENTITY)
    model = EfficientNet(stage_factories(block, stages, len(_STAGES), arch), num_classes=num_classes,
                         input_size=check_input_size(input_size, arch))
    model.bind_if_blocks_fixed(block)
    return model


#: This family's registry entries (:data:`recalib.models.catalog.MODELS` adds them).
ENTRIES: tuple[ArchEntry, ...] = (
    ArchEntry("efficientnet_b0", build_efficientnet_b0, paper="Tan & Le, EfficientNet (ICML 2019)",
              input_size=IMAGENET_SIZE, dataset="imagenet",
              summary="ImageNet EfficientNet-B0, SiLU SE gates in every MBConv unit",
              native=NativeBlock("se", {"reduction": 4, "hidden_from": "unit-input", "activation": "silu"},
                                 source="EfficientNet (Tan & Le 2019) as timm and torchvision build it: SE with "
                                        "SiLU, hidden width int(0.25 x the unit's input channels)")),
)
