"""Pieces every backbone family shares.

* initialised layers: convolutions get Kaiming-normal (fan-out, ReLU) weights at creation, so
  the backbone is training-ready without a model-wide init pass that would also overwrite the
  recalibration blocks' own initialisation;
* exact output-size arithmetic (``floor``/``ceil``, no divisibility assumed), so every insertion
  point knows its ``(H, W)`` at the model's nominal input size;
* the stage filter behind ``stages=``;
* :class:`Backbone`, the base every model shares: nominal ``input_size``, the input guard that
  refuses another resolution when some module is bound to the nominal one, and the list of
  inserted recalibration blocks (always stored under the attribute name ``recal``).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from recalib.blocks.common import check_dtype, positive_int
from recalib.errors import ConfigError, ShapeError
from recalib.models._insertion import BlockFactory

__all__ = ["Size", "Norm", "conv2d", "batch_norm", "conv_norm", "projection_shortcut", "classifier", "out_size",
           "stage_factories", "check_input_size", "Backbone"]

Size = tuple[int, int]
Norm = Callable[[int], nn.Module]


def conv2d(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1,
           bias: bool = False) -> nn.Conv2d:
    """A ``kernel``×``kernel`` conv with ``kernel // 2`` padding and He et al. (2015) fan-out init."""
    conv = nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=kernel // 2,
                     groups=groups, bias=bias)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def batch_norm(channels: int, zero_init: bool = False, *, eps: float = 1e-5, momentum: float = 0.1) -> nn.BatchNorm2d:
    """BN with weight 1 and bias 0; ``zero_init`` starts a residual branch at zero (Goyal et al. 2017).

    ``eps`` and ``momentum`` are PyTorch's defaults unless a network's reference implementation sets
    others (MobileNetV3: 0.001 and 0.01, after TensorFlow's 0.99 decay).
    """
    bn = nn.BatchNorm2d(channels, eps=eps, momentum=momentum)
    if zero_init:
        nn.init.zeros_(bn.weight)
    return bn


def conv_norm(in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1, *,
              act: Callable[[], nn.Module] | None = None, norm: Norm = batch_norm) -> nn.Sequential:
    """Conv (no bias) - norm - optional activation, one ``Sequential`` (torchvision's ``Conv2dNormActivation``)."""
    layers = [conv2d(in_channels, out_channels, kernel, stride, groups), norm(out_channels)]
    return nn.Sequential(*layers, *([] if act is None else [act()]))


def projection_shortcut(in_channels: int, out_channels: int, stride: int) -> nn.Module:
    """Projection (1×1 conv + BN, He et al.'s option B) where the shape changes, identity elsewhere."""
    if stride == 1 and in_channels == out_channels:
        return nn.Identity()
    return conv_norm(in_channels, out_channels, 1, stride)


def classifier(in_features: int, num_classes: int) -> nn.Linear:
    """The final fully connected layer; ``num_classes`` must be a positive integer."""
    return nn.Linear(in_features, positive_int(num_classes, "num_classes", "the classifier"))


def out_size(size: Size, kernel: int, stride: int, padding: int, ceil_mode: bool = False) -> Size:
    """Spatial size after a conv/pool: ``floor((n + 2p - k) / s) + 1`` (``ceil`` when ``ceil_mode``).

    With ``ceil_mode`` a window must start inside the input (PyTorch's rule), which is what the
    ``"same"``-padded pooling of Keras computes too.
    """
    rounding = math.ceil if ceil_mode else math.floor
    result = []
    for n in size:
        out = rounding((n + 2 * padding - kernel) / stride) + 1
        if ceil_mode and (out - 1) * stride >= n + padding:
            out -= 1
        result.append(out)
    return (result[0], result[1])


def check_input_size(input_size: Sequence[int], arch: str) -> Size:
    """Validate the nominal ``(H, W)`` a model is built for."""
    size = tuple(input_size) if isinstance(input_size, (tuple, list)) else None
    if size is None or len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                                 for v in size):
        raise ConfigError(f"{arch}: input_size must be an (H, W) pair of positive ints, got {input_size!r}")
    return (size[0], size[1])


def stage_factories(block: BlockFactory, stages: frozenset[int] | None, n_stages: int,
                    arch: str) -> list[BlockFactory]:
    """One factory per stage (index 0 is stage 1): ``block`` where it is inserted, else none.

    Stage indices are 1-based and count the backbone's residual (or dense, or conv-pool) stages;
    the stem is not a stage. E.g. ImageNet ResNets have stages 1–4 = conv2_x … conv5_x.
    """
    valid = list(range(1, n_stages + 1))
    if stages is None:
        return [block] * n_stages
    if block.name is None:
        raise ConfigError(f"{arch}: stages={sorted(stages)} given without a block; pass block=NAME or drop stages")
    unknown = sorted(stages - set(valid), key=repr)
    if unknown or not stages:
        what = f"unknown stage(s) {unknown}" if unknown else "an empty stage set"
        raise ConfigError(f"{arch}: {what}; valid stages are {valid} (1-based, stem excluded)")
    empty = BlockFactory()
    return [block if i in stages else empty for i in valid]


class Backbone(nn.Module):
    """Base of every model: nominal input size, input guard, inserted blocks.

    ``input_size`` is the ``(H, W)`` the model was built for; feature sizes given to blocks are
    computed from it. ``bound_reason`` is set (by :meth:`bind`) when some module only works at
    that size — then :meth:`check_input` refuses any other resolution at the model input instead
    of letting a shape error surface from deep inside torch.
    """

    def __init__(self, input_size: Size, in_channels: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.in_channels = in_channels
        self.bound_reason: str | None = None

    def bind(self, reason: str) -> None:
        """Record that the model only runs at ``input_size`` and why."""
        self.bound_reason = reason

    def bind_if_blocks_fixed(self, block: BlockFactory) -> None:
        """Bind to ``input_size`` when any inserted block was built for a fixed feature size."""
        if any(_size_bound(block, b) for b in self.recalibration_blocks()):
            self.bind(f"its {block.name!r} blocks were built for fixed feature sizes")

    def recalibration_blocks(self) -> list[nn.Module]:
        """The inserted blocks, in forward order (empty without a block)."""
        return [m for name, m in self.named_modules()
                if name.rsplit(".", 1)[-1] == "recal" and not isinstance(m, nn.Identity)]

    def check_input(self, x: torch.Tensor) -> None:
        """Raise :class:`ShapeError` unless ``x`` is ``(N, in_channels, H, W)`` at a size the model runs at."""
        record = getattr(self, "recalib_record", None)
        arch = type(self).__name__ if record is None else record.arch
        check_dtype(x, self, arch)
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ShapeError(f"{arch} expects (N, {self.in_channels}, H, W) input, got shape {tuple(x.shape)}")
        got = (int(x.shape[-2]), int(x.shape[-1]))
        if self.bound_reason is not None and got != self.input_size:
            h, w = self.input_size
            raise ShapeError(f"{arch} was built for {h}x{w} input ({self.bound_reason}), got "
                             f"{got[0]}x{got[1]}; rebuild with input_size=({got[0]}, {got[1]})")


def _size_bound(block: BlockFactory, module: nn.Module) -> bool:
    """Whether ``module`` (built by ``block``) only runs at the feature size it was built for.

    A block that knows says so with ``bound_size`` (GE: only the global extent is tied to one
    size); otherwise a block that kept the ``feat_size`` it was given (MS-SAR's precomputed
    pooling matrices, CC's maps and grids), or is registered as needing one, counts as bound.
    """
    if hasattr(module, "bound_size"):
        return module.bound_size is not None
    if getattr(module, "feat_size", None) is not None:
        return True
    return bool(block.entry is not None and block.entry.needs_feat_size)
