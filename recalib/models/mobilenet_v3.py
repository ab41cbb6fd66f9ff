"""MobileNetV3-Large 1.0 (Howard et al., "Searching for MobileNetV3", ICCV 2019), with its hard-sigmoid
squeeze-and-excitation gates as the insertion points.

Layout (the paper's Table 1): a 3×3/2 stem conv to 16 channels with hard-swish, fifteen inverted
residual units (:mod:`recalib.models.inverted_residual`) with the paper's expanded widths,
kernels, strides, activations (ReLU in the first six, hard-swish after) and gates, a 1×1 conv to
960 channels with hard-swish, global average pooling, a 960→1280 linear layer with hard-swish
(the paper's non-batch-normalised 1×1 conv), dropout 0.2 and the classifier. BN uses eps 0.001,
as the reference implementation (torchvision's ``mobilenet_v3_large``) does, so its weights give
its outputs; but PyTorch's momentum 0.1, not its 0.01 (TensorFlow's decay 0.99, made for hundreds
of ImageNet epochs): after a short schedule the slow average leaves the running statistics far
from the weights (three epochs on the digits: 96% accurate in training mode, 12% in eval mode).
The momentum only steers training; a model's outputs depend on its weights and statistics.
Stages 1–5 group the units by resolution (112, 56, 28, 14, 7 px at 224: 1, 2, 3, 6 and 3 units).

The native gate sits in the eight units the paper marks "SE" (stage 3, the last two units of
stage 4, stage 5), after the depthwise conv: SE with ReLU inside, a hard sigmoid (Sec. 5.2) and
a hidden width of ``C/4`` of the expanded channels rounded to a multiple of 8: recalib's ``se``
with ``reduction=4, gate="hard-sigmoid", round_to=8``. ``mobilenet_v3_large+none`` has no gate;
``mobilenet_v3_large+BLOCK`` puts ``BLOCK`` in those eight places (and nowhere else).

At 224×224: 5,483,032 parameters (torchvision's ``MobileNet_V3_Large_Weights`` table; the paper's
Table 3: 5.4M), of which the gates hold 1,512,280 (3,970,752 without them); 216.6 M multiply-adds
of convolutions and linear layers (``mac``, 1.5 M of them in the gates; torchvision's 0.217
"GFLOPS"). The paper's Table 3 prints 219 M MAdds, 1.1% more, which no multiply-add count of this
layout gives (counting also the gates' products gives 217.2 M; activations, pooling and all
element-wise work too, ``mac-inference``, 222.1 M): the paper does not say how it counted.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from recalib.entries import ArchEntry, NativeBlock
from recalib.errors import ConfigError
from recalib.models._insertion import BlockFactory
from recalib.models._layers import (Backbone, Size, batch_norm, check_input_size, classifier, conv_norm, out_size,
                                    stage_factories)
from recalib.models.inverted_residual import NO_IDENTITY, Unit, inverted_residual_stages

__all__ = ["MobileNetV3", "build_mobilenet_v3_large", "ENTRIES"]

IMAGENET_SIZE: Size = (224, 224)
_STEM, _LAST, _HIDDEN = 16, 960, 1280
_RE, _HS = nn.ReLU, nn.Hardswish
# (expanded channels, kernel, stride, output channels, SE, activation) per unit: the paper's Table 1, by stage
_STAGES = (
    (Unit(16, 3, 1, 16, False, _RE),),
    (Unit(64, 3, 2, 24, False, _RE), Unit(72, 3, 1, 24, False, _RE)),
    (Unit(72, 5, 2, 40, True, _RE), Unit(120, 5, 1, 40, True, _RE), Unit(120, 5, 1, 40, True, _RE)),
    (Unit(240, 3, 2, 80, False, _HS), Unit(200, 3, 1, 80, False, _HS), Unit(184, 3, 1, 80, False, _HS),
     Unit(184, 3, 1, 80, False, _HS), Unit(480, 3, 1, 112, True, _HS), Unit(672, 3, 1, 112, True, _HS)),
    (Unit(672, 5, 2, 160, True, _HS), Unit(960, 5, 1, 160, True, _HS), Unit(960, 5, 1, 160, True, _HS)),
)
_NORM = partial(batch_norm, eps=1e-3)


class MobileNetV3(Backbone):
    """``(N, 3, H, W) → (N, num_classes)``: stem, ``stages`` (five of inverted residual units), head, classifier."""

    def __init__(self, factories: list[BlockFactory], *, num_classes: int, input_size: Size) -> None:
        super().__init__(input_size, in_channels=3)
        self.stem = conv_norm(3, _STEM, 3, 2, act=_HS, norm=_NORM)
        self.stages, channels = inverted_residual_stages(_STAGES, factories, _STEM, out_size(input_size, 3, 2, 1),
                                                         _NORM)
        self.head = conv_norm(channels, _LAST, 1, act=_HS, norm=_NORM)
        self.classifier = nn.Sequential(nn.Linear(_LAST, _HIDDEN), _HS(), nn.Dropout(0.2),
                                        classifier(_HIDDEN, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.classifier(self.head(self.stages(self.stem(x))).mean((2, 3)))


def build_mobilenet_v3_large(*, block: BlockFactory, stages: frozenset[int] | None, num_classes: int = 1000,
                             input_size: Size = IMAGENET_SIZE) -> MobileNetV3:
    """MobileNetV3-Large 1.0; ``block`` goes where the paper puts SE (eight units of stages 3–5)."""
    arch = "mobilenet_v3_large"
    block.require_plain(arch, NO_IDENTITY)
    gated = {index + 1 for index, units in enumerate(_STAGES) if any(unit.gated for unit in units)}
    if stages is not None and block.name is not None and not stages & gated:
        raise ConfigError(f"{arch}: stages {sorted(stages)} hold no gate point; the paper gates units of stages "
                          f"{sorted(gated)}")
    model = MobileNetV3(stage_factories(block, stages, len(_STAGES), arch), num_classes=num_classes,
                        input_size=check_input_size(input_size, arch))
    model.bind_if_blocks_fixed(block)
    return model


#: This family's registry entries (:data:`recalib.models.catalog.MODELS` adds them).
ENTRIES: tuple[ArchEntry, ...] = (
    ArchEntry("mobilenet_v3_large", build_mobilenet_v3_large, paper="Howard et al., Searching for MobileNetV3 "
              "(ICCV 2019)", input_size=IMAGENET_SIZE, dataset="imagenet",
              summary="ImageNet MobileNetV3-Large 1.0, hard-sigmoid SE gates in eight of its fifteen units",
              native=NativeBlock("se", {"reduction": 4, "gate": "hard-sigmoid", "round_to": 8},
                                 source="MobileNetV3 (Howard et al. 2019) Sec. 5.2-5.3 as torchvision builds it: SE "
                                        "with a hard sigmoid, hidden width C/4 rounded to a multiple of 8")),
)
