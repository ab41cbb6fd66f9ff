"""The input a model that recalib did not build takes: given, else declared by the model, else an error.

The one rule for a user's model (recalib's own architectures have theirs, in
:meth:`recalib.record.ModelRecord.input_chw`):

1. ``--input-size H W`` (``input_size`` of the record), with the channels the model declares,
   else the input channels of its first ``Conv2d``;
2. else the size the model declares: ``model.default_input_size`` ``(C, H, W)``, or timm's
   ``model.pretrained_cfg["input_size"]`` / ``model.default_cfg["input_size"]``;
3. else a :class:`ConfigError` saying to pass ``--input-size``.

A size is only believed once a forward pass at it runs (:func:`check_forward`): a model that does not
take it fails here, with its own error quoted, instead of deep inside an export or a timing.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from recalib.errors import ConfigError, RecalibError, ShapeError, first_line

__all__ = ["declared_input_size", "resolve_input_chw", "check_forward"]

_PASS = "pass --input-size H W"


def _config_size(model: nn.Module, attribute: str) -> Any:
    config = getattr(model, attribute, None)
    return config.get("input_size") if isinstance(config, dict) else None


def _as_chw(value: Any, where: str) -> tuple[int, int, int]:
    ok = (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3
          and all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value))
    if not ok:
        raise ConfigError(f"the model's {where} is {value!r}, not (C, H, W) positive integers; fix it, or {_PASS}")
    return int(value[0]), int(value[1]), int(value[2])


def declared_input_size(model: nn.Module) -> tuple[int, int, int] | None:
    """``(C, H, W)`` the model declares (``default_input_size``, timm's configs), None if it declares none."""
    for where, value in (("default_input_size", getattr(model, "default_input_size", None)),
                         ("pretrained_cfg['input_size']", _config_size(model, "pretrained_cfg")),
                         ("default_cfg['input_size']", _config_size(model, "default_cfg"))):
        if value is not None:
            return _as_chw(value, where)
    return None


def _first_conv_channels(model: nn.Module) -> int | None:
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    return None if conv is None else int(conv.in_channels)


def resolve_input_chw(model: nn.Module, size: tuple[int, int] | None, what: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of ``model`` (named ``what``) by the rule of this module; ``size`` is ``--input-size``."""
    declared = declared_input_size(model)
    if size is None:
        if declared is None:
            raise ConfigError(f"{what} declares no input size (model.default_input_size = (C, H, W), or timm's "
                              f"pretrained_cfg['input_size']); {_PASS}")
        return declared
    channels = declared[0] if declared is not None else _first_conv_channels(model)
    if channels is None:
        raise ConfigError(f"{what} has no Conv2d and declares no input size, so its input channels are unknown; "
                          f"set model.default_input_size = (C, H, W) in the factory")
    return channels, int(size[0]), int(size[1])


def check_forward(model: nn.Module, chw: Sequence[int], what: str) -> None:
    """Run ``model`` once, in eval mode, on one random ``(1, C, H, W)`` input; :class:`ShapeError` if it fails."""
    x = torch.randn(1, *chw, generator=torch.Generator().manual_seed(0))
    training = model.training
    try:
        with torch.no_grad():
            model.eval()(x)
    except RecalibError:
        raise
    except Exception as exc:
        shape = "x".join(map(str, x.shape))
        raise ShapeError(f"{what} fails on a {shape} input ({type(exc).__name__}: {first_line(exc)}); "
                         f"{_PASS} that it takes") from exc
    finally:
        model.train(training)
