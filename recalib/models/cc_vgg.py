"""The Contextual Convolution paper's VGG-style networks (Marwood & Baluja, its Table 1).

* MNIST (28×28×1): [Conv2D(3×3, ReLU), MaxPool(4×4)] × 2, channels w, 4w → (2, 2, 4w);
* CIFAR-10 (32×32×3): [Conv2D(3×3, ReLU), MaxPool(2×2)] × 4, channels w, 2w, 4w, 8w → (2, 2, 8w);
* CIFAR-100: [Conv2D, Conv2D, MaxPool(2×2)] × 4, same channels → (2, 2, 8w);

then the head FC(128, ReLU), FC(num_classes) (logits; the softmax belongs to the loss). The
first width w is the paper's sweep variable, one of {1, 2, 4, 8, 16, 32, 48}; channels double
(quadruple for MNIST) at each conv following a max-pool. No batch norm (the table has none).

Padding is the reading that reproduces the table's output shapes for w = 48: convolutions keep
the size ("same"; unpadded convs would shrink CIFAR-10 to nothing), and max-pooling rounds up
(Keras ``padding="same"``; 28 → 7 → 2 on MNIST, whereas rounding down gives 1). With these the
CIFAR-100 net at w = 32 has 1.32M parameters, the paper's 1.3M (its Table 3).

A CC block follows every Conv2D, after its ReLU (the paper's Conv2D layer includes its
activation), before the pool. Stages are the conv-pool groups (2 for MNIST, 4 for CIFAR). The
flattened FC head fixes the input resolution, so these models always refuse another size.
"""
from __future__ import annotations

import torch
from torch import nn

from recalib.entries import ArchEntry
from recalib.errors import ConfigError
from recalib.models._insertion import BlockFactory
from recalib.models._layers import Backbone, Size, check_input_size, classifier, conv2d, out_size, stage_factories

__all__ = ["CCVGG", "build_cc_vgg_mnist", "build_cc_vgg_cifar10", "build_cc_vgg_cifar100", "ENTRIES"]

WIDTHS = (1, 2, 4, 8, 16, 32, 48)
_PAPER = "Marwood & Baluja, Contextual Convolution Blocks (Table 1)"


class ConvUnit(nn.Module):
    """Conv2D(3×3, same) + bias, ReLU, then the block: ``(N, C_in, H, W) → (N, C, H, W)``."""

    def __init__(self, in_channels: int, channels: int, feat_size: Size, block: BlockFactory) -> None:
        super().__init__()
        self.conv = conv2d(in_channels, channels, 3, bias=True)
        self.relu = nn.ReLU(inplace=True)
        self.recal = block(channels, feat_size=feat_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.recal(self.relu(self.conv(x)))


class CCVGG(Backbone):
    """``(N, C_in, H, W) → (N, num_classes)``; conv-pool groups are ``stage1``…``stageS``."""

    def __init__(self, in_channels: int, first_width: int, growth: int, convs_per_stage: int, pool: int,
                 factories: list[BlockFactory], *, num_classes: int, input_size: Size) -> None:
        super().__init__(input_size, in_channels)
        size, channels, width = input_size, in_channels, first_width
        for index, factory in enumerate(factories):
            layers: list[nn.Module] = []
            for _ in range(convs_per_stage):
                layers.append(ConvUnit(channels, width, size, factory))
                channels = width
            layers.append(nn.MaxPool2d(pool, pool, ceil_mode=True))
            size = out_size(size, pool, pool, 0, ceil_mode=True)
            setattr(self, f"stage{index + 1}", nn.Sequential(*layers))
            width *= growth
        self.stages = len(factories)
        self.head = nn.Sequential(nn.Flatten(1), nn.Linear(channels * size[0] * size[1], 128), nn.ReLU(inplace=True),
                                  classifier(128, num_classes))
        self.bind("its FC(128) head takes the flattened final feature map")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        for index in range(1, self.stages + 1):
            x = getattr(self, f"stage{index}")(x)
        return self.head(x)


def _build(arch: str, block: BlockFactory, stages: frozenset[int] | None, first_width: int, num_classes: int,
           input_size: Size, *, in_channels: int, n_stages: int, convs_per_stage: int, pool: int,
           growth: int) -> CCVGG:
    if first_width not in WIDTHS:
        raise ConfigError(f"{arch}: first_width must be one of the paper's widths {WIDTHS}, got {first_width!r}")
    block.require_plain(arch, "the VGG-style nets have no residual connections")
    factories = stage_factories(block, stages, n_stages, arch)
    return CCVGG(in_channels, first_width, growth, convs_per_stage, pool, factories, num_classes=num_classes,
                 input_size=check_input_size(input_size, arch))


def build_cc_vgg_mnist(*, block: BlockFactory, stages: frozenset[int] | None, first_width: int = 48,
                       num_classes: int = 10, input_size: Size = (28, 28)) -> CCVGG:
    """MNIST net: 2 × [conv, 4×4 max-pool], channels ×4 per stage, 1 input channel."""
    return _build("cc_vgg_mnist", block, stages, first_width, num_classes, input_size,
                  in_channels=1, n_stages=2, convs_per_stage=1, pool=4, growth=4)


def build_cc_vgg_cifar10(*, block: BlockFactory, stages: frozenset[int] | None, first_width: int = 48,
                         num_classes: int = 10, input_size: Size = (32, 32)) -> CCVGG:
    """CIFAR-10 net: 4 × [conv, 2×2 max-pool], channels ×2 per stage."""
    return _build("cc_vgg_cifar10", block, stages, first_width, num_classes, input_size,
                  in_channels=3, n_stages=4, convs_per_stage=1, pool=2, growth=2)


def build_cc_vgg_cifar100(*, block: BlockFactory, stages: frozenset[int] | None, first_width: int = 48,
                          num_classes: int = 100, input_size: Size = (32, 32)) -> CCVGG:
    """CIFAR-100 net: 4 × [conv, conv, 2×2 max-pool], channels ×2 per stage."""
    return _build("cc_vgg_cifar100", block, stages, first_width, num_classes, input_size,
                  in_channels=3, n_stages=4, convs_per_stage=2, pool=2, growth=2)


#: This family's registry entries (:data:`recalib.models.catalog.MODELS` adds them).
ENTRIES: tuple[ArchEntry, ...] = (
    ArchEntry("cc_vgg_mnist", build_cc_vgg_mnist, paper=_PAPER, input_size=(28, 28), in_channels=1, dataset="mnist",
              summary="CC paper's MNIST VGG-style net, first width 48"),
    ArchEntry("cc_vgg_cifar10", build_cc_vgg_cifar10, paper=_PAPER, input_size=(32, 32), dataset="cifar",
              summary="CC paper's CIFAR-10 VGG-style net, first width 48"),
    ArchEntry("cc_vgg_cifar100", build_cc_vgg_cifar100, paper=_PAPER, input_size=(32, 32), dataset="cifar",
              summary="CC paper's CIFAR-100 VGG-style net, first width 48"),
)
