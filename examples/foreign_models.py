"""Networks built the way timm and torchvision build them, for trying recalib on a model it did not build.

Written from scratch in the structure of the public implementations (module names, layer
order, gate placement and widths), not copied, so recalib's tests and benchmarks can exercise
what users bring without depending on timm or torchvision (no torchvision wheel installs
beside the CPU build of torch used here). Every factory returns a plain ``nn.Module`` and
declares its input size as ``model.default_input_size`` (C, H, W)::

    recalib export examples/foreign_models.py:seresnet50 -o seresnet50.onnx
    recalib gates examples/foreign_models.py:mobilenet_v3_large:width=0.5

Structures reproduced, with what makes each awkward for a tool:

* :func:`seresnet50` (timm ``seresnet50``): ResNet-50 bottlenecks with an SE module (FC biases,
  ReLU, sigmoid) before the residual sum; the last BN of each branch starts at zero
  (timm's ``zero_init_last``), so with its initial weights the gates change nothing.
* :func:`efficientnet_b0` (timm ``efficientnet_b0``): MBConv blocks whose norms are
  ``BatchNormAct2d``, a ``BatchNorm2d`` subclass that also applies SiLU, and a SiLU SE whose
  width is a quarter of the block's *input* channels.
* :func:`mobilenet_v3_large` (torchvision ``mobilenet_v3_large``): inverted residuals with a
  hard-sigmoid ``SqueezeExcitation`` after the depthwise conv, hard-swish activations.
* :func:`ecaresnet` (timm ``EcaModule``): a 1-D conv across the pooled channels, no FC.
* :func:`cbam_resnet` (the channel half of CBAM): average- and max-pooled descriptors through one
  shared MLP, summed, then a sigmoid.

``width`` scales every channel count and ``depth`` the number of blocks per stage (keeping at
least one), so tests can build small versions of the same structure.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

__all__ = ["seresnet50", "efficientnet_b0", "mobilenet_v3_large", "ecaresnet", "cbam_resnet",
           "BatchNormAct2d", "SEModule", "SqueezeExcite", "SqueezeExcitation", "EcaModule", "ChannelAttention"]

IMAGENET = (3, 224, 224)


def make_divisible(value: float, divisor: int = 8) -> int:
    """The channel rounding of both libraries: to a multiple of ``divisor``, never 10% below ``value``."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _scaled(channels: int, width: float) -> int:
    return make_divisible(channels * width)


def _repeats(count: int, depth: float) -> int:
    return max(1, math.ceil(count * depth))


# --- gates -------------------------------------------------------------------------------------------


class SEModule(nn.Module):
    """timm's SE: ``x * sigmoid(fc2(relu(fc1(mean(x)))))`` with 1×1 convs holding biases."""

    def __init__(self, channels: int, rd_ratio: float = 1 / 16) -> None:
        super().__init__()
        hidden = make_divisible(channels * rd_ratio)
        self.fc1 = nn.Conv2d(channels, hidden, 1)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class SqueezeExcite(nn.Module):
    """timm's EfficientNet SE: SiLU inside, the reduced width taken from the block's input channels."""

    def __init__(self, channels: int, rd_channels: int) -> None:
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, rd_channels, 1)
        self.act1 = nn.SiLU(inplace=True)
        self.conv_expand = nn.Conv2d(rd_channels, channels, 1)
        self.gate = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        return x * self.gate(self.conv_expand(self.act1(self.conv_reduce(s))))


class SqueezeExcitation(nn.Module):
    """torchvision's SE (``torchvision.ops.SqueezeExcitation``) with MobileNetV3's hard sigmoid."""

    def __init__(self, input_channels: int, squeeze_channels: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return x * self.scale_activation(scale)


class EcaModule(nn.Module):
    """timm's ECA: a bias-free 1-D conv of kernel ``k`` across the pooled channels, then a sigmoid."""

    def __init__(self, channels: int, gamma: int = 2, beta: int = 1) -> None:
        super().__init__()
        k = int(abs((math.log2(channels) + beta) / gamma))
        k = max(k if k % 2 else k + 1, 3)
        self.conv = nn.Conv1d(1, 1, kernel_size=k, padding=(k - 1) // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)
        y = self.conv(y).view(x.shape[0], -1, 1, 1).sigmoid()
        return x * y.expand_as(x)


class ChannelAttention(nn.Module):
    """CBAM's channel attention: ``sigmoid(mlp(avg(x)) + mlp(max(x)))`` with one shared MLP."""

    def __init__(self, channels: int, rd_ratio: float = 1 / 16) -> None:
        super().__init__()
        hidden = make_divisible(channels * rd_ratio)
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.act = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.fc2(self.act(self.fc1(x.mean((2, 3), keepdim=True))))
        peak = self.fc2(self.act(self.fc1(x.amax((2, 3), keepdim=True))))
        return x * torch.sigmoid(avg + peak)


# --- norms -------------------------------------------------------------------------------------------


class BatchNormAct2d(nn.BatchNorm2d):
    """timm's fused norm: a ``BatchNorm2d`` *subclass* that also applies its activation."""

    def __init__(self, channels: int, act_layer: Callable[[], nn.Module] | None = nn.SiLU, eps: float = 1e-5,
                 momentum: float = 0.1) -> None:
        super().__init__(channels, eps=eps, momentum=momentum)
        self.act = act_layer() if act_layer is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(super().forward(x))


# --- ResNets (timm layout: stride on the 3x3, SE before the sum) -------------------------------------------


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int, gate: Callable[[int], nn.Module],
                 downsample: nn.Module | None) -> None:
        super().__init__()
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.act2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.se = gate(out)
        self.act3 = nn.ReLU(inplace=True)
        self.downsample = downsample

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.bn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.act2(self.bn2(self.conv2(x)))
        x = self.se(self.bn3(self.conv3(x)))
        return self.act3(x + shortcut)


class ResNet(nn.Module):
    """timm's ResNet with ``Bottleneck`` blocks, a 7×7 stem and a gate in every block."""

    def __init__(self, layers: Sequence[int], gate: Callable[[int], nn.Module], width: float = 1.0,
                 num_classes: int = 1000, zero_init_last: bool = True) -> None:
        super().__init__()
        self.default_input_size = IMAGENET
        stem = _scaled(64, width)
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.act1 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        inplanes, stages = stem, []
        for index, blocks in enumerate(layers):
            planes = _scaled(64 * 2 ** index, width)
            stride = 1 if index == 0 else 2
            stage = []
            for block in range(blocks):
                downsample = None
                if block == 0 and (stride != 1 or inplanes != planes * Bottleneck.expansion):
                    downsample = nn.Sequential(nn.Conv2d(inplanes, planes * Bottleneck.expansion, 1, stride, bias=False),
                                               nn.BatchNorm2d(planes * Bottleneck.expansion))
                stage.append(Bottleneck(inplanes, planes, stride if block == 0 else 1, gate, downsample))
                inplanes = planes * Bottleneck.expansion
            stages.append(nn.Sequential(*stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.fc = nn.Linear(inplanes, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_last:
            for module in self.modules():
                if isinstance(module, Bottleneck):
                    module.zero_init_last()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean((2, 3)))


def seresnet50(width: float = 1.0, depth: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """timm's ``seresnet50``: 28,088,024 parameters at full size (the SE-ResNet-50 of the SE paper)."""
    return ResNet([_repeats(n, depth) for n in (3, 4, 6, 3)], SEModule, width, num_classes)


def ecaresnet(width: float = 1.0, depth: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """A ResNet-50 layout gated by ECA (timm's ``ecaresnet50d`` uses the same module, with a deep stem)."""
    return ResNet([_repeats(n, depth) for n in (3, 4, 6, 3)], EcaModule, width, num_classes)


def cbam_resnet(width: float = 1.0, depth: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """A ResNet-50 layout gated by CBAM's channel attention."""
    return ResNet([_repeats(n, depth) for n in (3, 4, 6, 3)], ChannelAttention, width, num_classes)


# --- EfficientNet-B0 (timm) ----------------------------------------------------------------------------


class InvertedResidual(nn.Module):
    """timm's MBConv: 1×1 expand, k×k depthwise, SE, 1×1 project (no activation), skip when shapes match."""

    def __init__(self, in_chs: int, out_chs: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = in_chs * expand
        self.has_skip = stride == 1 and in_chs == out_chs
        self.conv_pw = nn.Conv2d(in_chs, mid, 1, bias=False) if expand != 1 else nn.Identity()
        self.bn1 = BatchNormAct2d(mid) if expand != 1 else nn.Identity()
        self.conv_dw = nn.Conv2d(mid, mid, kernel, stride, kernel // 2, groups=mid, bias=False)
        self.bn2 = BatchNormAct2d(mid)
        self.se = SqueezeExcite(mid, max(1, int(in_chs * 0.25)))
        self.conv_pwl = nn.Conv2d(mid, out_chs, 1, bias=False)
        self.bn3 = BatchNormAct2d(out_chs, act_layer=None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.bn2(self.conv_dw(self.bn1(self.conv_pw(x))))
        x = self.bn3(self.conv_pwl(self.se(x)))
        return x + shortcut if self.has_skip else x


class EfficientNet(nn.Module):
    # (expand, channels, repeats, stride, kernel) per stage of EfficientNet-B0 (Tan & Le 2019, Table 1)
    STAGES = ((1, 16, 1, 1, 3), (6, 24, 2, 2, 3), (6, 40, 2, 2, 5), (6, 80, 3, 2, 3), (6, 112, 3, 1, 5),
              (6, 192, 4, 2, 5), (6, 320, 1, 1, 3))

    def __init__(self, width: float = 1.0, depth: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        self.default_input_size = IMAGENET
        stem = _scaled(32, width)
        self.conv_stem = nn.Conv2d(3, stem, 3, 2, 1, bias=False)
        self.bn1 = BatchNormAct2d(stem)
        blocks, in_chs = [], stem
        for expand, channels, repeats, stride, kernel in self.STAGES:
            out = _scaled(channels, width)
            stage = [InvertedResidual(in_chs if i == 0 else out, out, kernel, stride if i == 0 else 1, expand)
                     for i in range(_repeats(repeats, depth))]
            blocks.append(nn.Sequential(*stage))
            in_chs = out
        self.blocks = nn.Sequential(*blocks)
        head = _scaled(1280, max(width, 1.0))
        self.conv_head = nn.Conv2d(in_chs, head, 1, bias=False)
        self.bn2 = BatchNormAct2d(head)
        self.classifier = nn.Linear(head, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.bn1(self.conv_stem(x)))
        x = self.bn2(self.conv_head(x))
        return self.classifier(x.mean((2, 3)))


def efficientnet_b0(width: float = 1.0, depth: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """timm's ``efficientnet_b0``: 5,288,548 parameters at full size."""
    return EfficientNet(width, depth, num_classes)


# --- MobileNetV3-Large (torchvision) ---------------------------------------------------------------------


def _conv_norm_act(in_chs: int, out_chs: int, kernel: int, stride: int = 1, groups: int = 1,
                   act: Callable[[], nn.Module] | None = nn.Hardswish) -> nn.Sequential:
    """torchvision's ``Conv2dNormActivation`` (BN eps 0.001 as MobileNetV3 sets it)."""
    layers: list[nn.Module] = [nn.Conv2d(in_chs, out_chs, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
                               nn.BatchNorm2d(out_chs, eps=0.001, momentum=0.01)]
    return nn.Sequential(*layers, *([act()] if act is not None else []))


class MobileBlock(nn.Module):
    """torchvision's MobileNetV3 ``InvertedResidual``: the SE sits between depthwise and projection."""

    def __init__(self, in_chs: int, kernel: int, expanded: int, out_chs: int, use_se: bool, act: type[nn.Module],
                 stride: int) -> None:
        super().__init__()
        self.use_res_connect = stride == 1 and in_chs == out_chs
        layers: list[nn.Module] = []
        if expanded != in_chs:
            layers.append(_conv_norm_act(in_chs, expanded, 1, act=act))
        layers.append(_conv_norm_act(expanded, expanded, kernel, stride, groups=expanded, act=act))
        if use_se:
            layers.append(SqueezeExcitation(expanded, make_divisible(expanded // 4, 8)))
        layers.append(_conv_norm_act(expanded, out_chs, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return y + x if self.use_res_connect else y


class MobileNetV3(nn.Module):
    # (in, kernel, expanded, out, SE, hard-swish, stride): MobileNetV3-Large (Howard et al. 2019, Table 1)
    LARGE = ((16, 3, 16, 16, False, False, 1), (16, 3, 64, 24, False, False, 2), (24, 3, 72, 24, False, False, 1),
             (24, 5, 72, 40, True, False, 2), (40, 5, 120, 40, True, False, 1), (40, 5, 120, 40, True, False, 1),
             (40, 3, 240, 80, False, True, 2), (80, 3, 200, 80, False, True, 1), (80, 3, 184, 80, False, True, 1),
             (80, 3, 184, 80, False, True, 1), (80, 3, 480, 112, True, True, 1), (112, 3, 672, 112, True, True, 1),
             (112, 5, 672, 160, True, True, 2), (160, 5, 960, 160, True, True, 1), (160, 5, 960, 160, True, True, 1))

    def __init__(self, width: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        self.default_input_size = IMAGENET
        layers: list[nn.Module] = [_conv_norm_act(3, _scaled(16, width), 3, 2)]
        for in_chs, kernel, expanded, out_chs, use_se, hard, stride in self.LARGE:
            act = nn.Hardswish if hard else nn.ReLU
            layers.append(MobileBlock(_scaled(in_chs, width), kernel, _scaled(expanded, width), _scaled(out_chs, width),
                                      use_se, act, stride))
        last_in = _scaled(160, width)
        layers.append(_conv_norm_act(last_in, 6 * last_in, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(6 * last_in, 1280), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(1280, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))


def mobilenet_v3_large(width: float = 1.0, num_classes: int = 1000) -> nn.Module:
    """torchvision's ``mobilenet_v3_large``: 5,483,032 parameters at full size."""
    return MobileNetV3(width, num_classes)
