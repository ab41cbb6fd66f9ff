"""Checks and rules shared by every block family."""
from __future__ import annotations

import itertools

import torch
from torch import nn

from recalib.errors import ConfigError, ShapeError

__all__ = ["positive_int", "check_choice", "check_channels", "reduced_channels", "round_channels", "check_dtype",
           "check_input", "check_feat_size", "as_pair", "check_batch_statistics"]


def positive_int(value: object, what: str, name: str) -> int:
    """Return ``value`` if it is a positive ``int`` (bools excluded), else raise :class:`ConfigError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: {what} must be a positive integer, got {value!r}")
    return value


def check_choice(value: object, choices: tuple[str, ...], what: str, name: str) -> str:
    """Return ``value`` if it is one of ``choices``, else raise :class:`ConfigError` listing them.

    A registry build checks a ``Literal`` annotation already; a block built directly (``SqueezeExcite(
    64, gate="hard")``) would otherwise fail deep in a lookup, or silently take another branch.
    """
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name}: {what} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def check_channels(channels: object, name: str) -> int:
    """Validate a block's channel count at construction."""
    return positive_int(channels, "channels", name)


def reduced_channels(channels: int, reduction: int, *, name: str = "block") -> int:
    """Hidden width of a bottleneck MLP: ``channels // reduction`` (floor).

    Floor division is the official SE/GE rule (C/16 for every ResNet width, all multiples of
    16). A block with fewer channels than ``reduction`` would have an empty hidden layer, so it
    is rejected instead of silently rounded up.
    """
    check_channels(channels, name)
    positive_int(reduction, "reduction ratio r", name)
    if channels < reduction:
        raise ConfigError(f"{name}: channels ({channels}) smaller than the reduction ratio r={reduction} "
                          f"leaves an empty hidden layer; use r <= {channels}")
    return channels // reduction


def round_channels(value: int, divisor: int) -> int:
    """``value`` rounded to the nearest multiple of ``divisor`` (at least ``divisor``), never 10% below ``value``.

    The channel rounding of the MobileNet family (TensorFlow's ``_make_divisible``, also torchvision's
    and timm's), which MobileNetV3 applies to its SE hidden widths (72 // 4 = 18 -> 24).
    """
    rounded = max(divisor, (value + divisor // 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def check_dtype(x: torch.Tensor, module: nn.Module, name: str) -> None:
    """Raise :class:`ShapeError` unless ``x`` is floating point, of the dtype of ``module``'s weights.

    Mixing dtypes fails deep in torch (``Input type (c10::Half) and bias type (float) should be
    the same``) or, worse, silently promotes a block's output to another dtype. Under autocast
    torch chooses the dtypes itself, so only floating point is required there.
    """
    if not x.is_floating_point():
        raise ShapeError(f"{name} expects a floating-point input, got {x.dtype}; convert it with x.float()")
    # Lazily: the first floating tensor decides, so a whole backbone's parameters are not listed per call.
    own = next((t.dtype for t in itertools.chain(module.parameters(), module.buffers()) if t.is_floating_point()),
               None)
    if own is not None and x.dtype != own and not torch.is_autocast_enabled(x.device.type):
        raise ShapeError(f"{name} holds {own} weights but got a {x.dtype} input; convert the input "
                         f"(x.to({own})) or the module (.to({x.dtype}))")


def check_input(x: torch.Tensor, channels: int, name: str, module: nn.Module | None = None) -> None:
    """Raise :class:`ShapeError` unless ``x`` is ``(N, channels, H, W)`` (of ``module``'s dtype, if given)."""
    if module is not None:
        check_dtype(x, module, name)
    if x.dim() != 4:
        raise ShapeError(f"{name} expects a 4-D (N, C, H, W) tensor, got shape {tuple(x.shape)}")
    if x.shape[1] != channels:
        raise ShapeError(f"{name} was built for {channels} channels but got {x.shape[1]} "
                         f"(input shape {tuple(x.shape)})")


def check_feat_size(x: torch.Tensor, feat_size: tuple[int, int], name: str) -> None:
    """Raise :class:`ShapeError` unless the spatial size of ``x`` is ``feat_size``."""
    if tuple(x.shape[-2:]) != tuple(feat_size):
        raise ShapeError(f"{name} was built for a {feat_size[0]}x{feat_size[1]} feature map but got "
                         f"{x.shape[-2]}x{x.shape[-1]}; rebuild it with feat_size=({x.shape[-2]}, "
                         f"{x.shape[-1]}) or feed the input resolution it was built for")


def as_pair(value: int | tuple[int, int] | list[int], what: str) -> tuple[int, int]:
    """``7 → (7, 7)``; validates a positive (H, W) pair."""
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ConfigError(f"{what} must be a positive int or an (H, W) pair of positive ints, got {value!r}")
    return pair


def check_batch_statistics(values: int, training: bool, name: str, what: str) -> None:
    """Raise :class:`ShapeError` when a training-mode BatchNorm would see one value per channel.

    ``values`` is how many values per channel the block's smallest BatchNorm normalises
    (batch × its spatial size); PyTorch's own error at 1 names no block.
    """
    if training and values <= 1:
        raise ShapeError(f"{name}: in training mode BatchNorm normalises {what} over the batch, and "
                         f"one sample gives it a single value per channel; train with a batch of at "
                         f"least 2, or call .eval() to run one sample")
