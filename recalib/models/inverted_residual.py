"""The inverted residual unit (MBConv) that EfficientNet and MobileNetV3 are built of, with their gate point.

Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks" (CVPR 2018), Sec. 3.3;
with a squeeze-and-excitation gate after the depthwise convolution in MnasNet (Tan et al., CVPR
2019), EfficientNet (Tan & Le, ICML 2019) and MobileNetV3 (Howard et al., ICCV 2019, Fig. 4).

A unit is a 1×1 expansion conv - BN - activation (left out when it would not widen, expansion
ratio 1), a k×k depthwise conv (stride s) - BN - activation, the gate, and a 1×1 projection
conv - BN without activation (the linear bottleneck); the input is added when the shapes
match. The gate point, ``recal``, sees the expanded map: the native gate, a recalibration block
(:class:`~recalib.models.BlockFactory`, told the unit's input channels as ``unit_channels``), or
nothing. It sits inside the branch, where no residual identity of its shape exists.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from recalib.models._insertion import BlockFactory
from recalib.models._layers import Norm, Size, conv_norm, out_size

__all__ = ["Unit", "InvertedResidual", "inverted_residual_stages", "NO_IDENTITY"]

#: Why an identity-taking block (CMPE-SE) cannot sit at an inverted residual's gate point.
NO_IDENTITY = ("the gate point sits inside the inverted residual branch, between the depthwise and the "
               "projection conv, where no identity of the gated map's shape exists")


@dataclass(frozen=True)
class Unit:
    """One unit of a network's table: ``expanded`` channels, ``kernel``, ``stride``, ``out_channels``,
    whether it is gated and its activation."""

    expanded: int
    kernel: int
    stride: int
    out_channels: int
    gated: bool
    act: Callable[[], nn.Module]


class InvertedResidual(nn.Module):
    """``(N, C_in, H, W) → (N, C_out, H/s, W/s)``; the gate (``recal``) sees the ``(N, expanded, H/s, W/s)`` map."""

    def __init__(self, in_channels: int, unit: Unit, *, norm: Norm, feat_size: Size, block: BlockFactory) -> None:
        super().__init__()
        mid, act = unit.expanded, unit.act
        self.expand = conv_norm(in_channels, mid, 1, act=act, norm=norm) if mid != in_channels else nn.Identity()
        self.depthwise = conv_norm(mid, mid, unit.kernel, unit.stride, groups=mid, act=act, norm=norm)
        self.recal = block(mid, feat_size=feat_size, unit_channels=in_channels) if unit.gated else nn.Identity()
        self.project = conv_norm(mid, unit.out_channels, 1, norm=norm)
        self.residual = unit.stride == 1 and in_channels == unit.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.project(self.recal(self.depthwise(self.expand(x))))
        return out + x if self.residual else out


def inverted_residual_stages(stages: Sequence[Sequence[Unit]], factories: Sequence[BlockFactory], in_channels: int,
                             size: Size, norm: Norm) -> tuple[nn.Sequential, int]:
    """The stages of ``stages``' units (each stage's gates from its factory), and their output channels.

    ``size`` is the feature size entering the first stage; each gate is told the size it sees.
    """
    built = []
    for units, factory in zip(stages, factories):
        layers = []
        for unit in units:
            size = out_size(size, unit.kernel, unit.stride, unit.kernel // 2)
            layers.append(InvertedResidual(in_channels, unit, norm=norm, feat_size=size, block=factory))
            in_channels = unit.out_channels
        built.append(nn.Sequential(*layers))
    return nn.Sequential(*built), in_channels
