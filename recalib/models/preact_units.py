"""Pre-activation residual units (He et al., "Identity Mappings in Deep Residual Networks", ECCV 2016).

Shared by the CIFAR pre-activation ResNets and Wide ResNets (:mod:`recalib.models.cifar_resnet`)
and the ImageNet pre-activation ResNets (:mod:`recalib.models.resnet`). A unit is
``BN-ReLU → convs → recal`` plus a shortcut; the sum is not followed by a ReLU. Where the shape
changes, the shortcut is a 1×1 projection without BN applied to the *pre-activated* input, as in
the official code; otherwise it is the identity on the raw input.

``preactivate=False`` drops the unit's leading BN-ReLU: the official ImageNet pre-activation nets
build their first unit this way because the stem has just applied BN-ReLU (and the projection
then reads the stem's output). Recalibration sits after the last conv; CMPE-SE also receives the
identity (after the projection). Bottlenecks pass their inner width to the block as ``width``.
"""
from __future__ import annotations

import torch
from torch import nn

from recalib.errors import ConfigError
from recalib.models._insertion import BlockFactory, recalibrate_residual
from recalib.models._layers import Size, batch_norm, conv2d

__all__ = ["PreActUnit", "PreActBottleneck", "projection"]


def projection(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """1×1 projection (no BN) where the shape changes, else the identity."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return conv2d(in_channels, out_channels, 1, stride)


def _check_dropout(dropout: float) -> float:
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ConfigError(f"dropout must be a probability in [0, 1), got {dropout!r}")
    return float(dropout)


class _PreActBase(nn.Module):
    """``bn1``-ReLU (skipped without ``preactivate``) → ``branch`` → ``recal``, plus the shortcut."""

    bn1: nn.Module
    relu: nn.Module
    shortcut: nn.Module
    recal: nn.Module
    takes_identity: bool
    preactivate: bool

    def branch(self, pre: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.relu(self.bn1(x)) if self.preactivate else x
        identity = x if isinstance(self.shortcut, nn.Identity) else self.shortcut(pre)
        return recalibrate_residual(self.recal, self.takes_identity, self.branch(pre), identity)


class PreActUnit(_PreActBase):
    """Basic unit (also WRN's): BN-ReLU-conv3×3(stride)-BN-ReLU-[dropout]-conv3×3, ``recal``, + shortcut.

    ``(N, C_in, H, W) → (N, C, H/s, W/s)``. ``dropout`` is WRN's dropout between the two convs
    (Zagoruyko & Komodakis, Sec. 2.4; 0.3 in their CIFAR runs); 0 (default) leaves it out.
    """

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int, feat_size: Size, block: BlockFactory,
                 *, preactivate: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.preactivate = preactivate
        self.bn1 = batch_norm(in_channels) if preactivate else nn.Identity()
        self.conv1 = conv2d(in_channels, channels, 3, stride)
        self.bn2, self.conv2 = batch_norm(channels), conv2d(channels, channels, 3)
        self.relu = nn.ReLU(inplace=True)
        rate = _check_dropout(dropout)
        self.dropout = nn.Dropout(rate) if rate else nn.Identity()
        self.shortcut = projection(in_channels, channels, stride)
        self.recal = block(channels, feat_size=feat_size, width=channels)
        self.takes_identity = block.takes_identity

    def branch(self, pre: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.dropout(self.relu(self.bn2(self.conv1(pre)))))


class PreActBottleneck(_PreActBase):
    """Bottleneck: BN-ReLU-1×1(w)-BN-ReLU-3×3(w, stride)-BN-ReLU-1×1(4w), ``recal``, + shortcut.

    ``(N, C_in, H, W) → (N, 4w, H/s, W/s)``; the stride sits in the 3×3 conv, as in the official code.
    """

    expansion = 4

    def __init__(self, in_channels: int, width: int, stride: int, feat_size: Size, block: BlockFactory,
                 *, preactivate: bool = True) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.preactivate = preactivate
        self.bn1 = batch_norm(in_channels) if preactivate else nn.Identity()
        self.conv1 = conv2d(in_channels, width, 1)
        self.bn2, self.conv2 = batch_norm(width), conv2d(width, width, 3, stride)
        self.bn3, self.conv3 = batch_norm(width), conv2d(width, out_channels, 1)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = projection(in_channels, out_channels, stride)
        self.recal = block(out_channels, feat_size=feat_size, width=width)
        self.takes_identity = block.takes_identity

    def branch(self, pre: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.relu(self.bn2(self.conv1(pre))))
        return self.conv3(self.relu(self.bn3(out)))
