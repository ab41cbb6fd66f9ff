"""How a backbone builds and applies the recalibration block at each insertion point."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from recalib.entries import BlockEntry, build, keyword_defaults, keyword_names
from recalib.errors import ConfigError

__all__ = ["BlockFactory", "recalibrate_residual"]

_CONTEXT = ("feat_size", "width", "source_channels", "unit_channels")


class BlockFactory:
    """Builds one block per insertion point from a block's registry entry and the user's options.

    The backbone supplies the context it knows (``feat_size`` from its nominal resolution, the
    bottleneck ``width``, the input channels of the unit holding the insertion point as
    ``unit_channels``); each block receives only the context keys its constructor takes.
    ``BlockFactory(None)`` builds ``nn.Identity`` so a backbone has one code path. The caller
    looks the entry up (:mod:`recalib.models.assembly`), so backbones never reach for a registry.
    """

    def __init__(self, entry: BlockEntry | None = None, options: Mapping[str, Any] | None = None) -> None:
        self.options = dict(options or {})
        self.entry = entry
        if self.entry is None and self.options:
            raise ConfigError(f"option(s) {', '.join(sorted(self.options))} given without a block; "
                              f"pass block=NAME or drop them")
        given_context = sorted(set(self.options) & set(_CONTEXT))
        if given_context:
            raise ConfigError(f"{', '.join(given_context)} is set by the backbone at each insertion point; "
                              f"do not pass it (choose the model's input_size instead)")
        if self.entry is not None:
            self._accepted = keyword_names(self.entry.builder)

    @property
    def name(self) -> str | None:
        return self.entry.name if self.entry else None

    @property
    def takes_identity(self) -> bool:
        return bool(self.entry and self.entry.takes_identity)

    def require_plain(self, arch: str, reason: str) -> None:
        """Refuse, at build time, a block that needs the residual identity where none exists."""
        if self.takes_identity:
            raise ConfigError(f"{arch}: block {self.name!r} needs the residual identity, but {reason}; "
                              f"use a residual backbone (ResNet, pre-activation ResNet, WRN)")

    def effective_options(self) -> dict[str, Any]:
        """The user's options over the block constructor's own defaults (context and fixed options left out).

        Recorded with the model, so it rebuilds the same block should a default change later.
        """
        if self.entry is None:
            return {}
        defaults = keyword_defaults(self.entry.builder)
        own = {k: v for k, v in defaults.items() if k not in _CONTEXT and k not in self.entry.fixed}
        return {**own, **self.options}

    def accepts(self, option: str) -> bool:
        """Whether the block's constructor takes ``option`` (e.g. ``source_channels``)."""
        return self.entry is not None and (self._accepted is None or option in self._accepted)

    def __call__(self, channels: int, *, feat_size: tuple[int, int] | None = None,
                 width: int | None = None, source_channels: int | None = None,
                 unit_channels: int | None = None) -> nn.Module:
        """Build the block for ``channels``; context the block's constructor does not take is dropped."""
        if self.entry is None:
            return nn.Identity()
        context = {"feat_size": feat_size, "width": width, "source_channels": source_channels,
                   "unit_channels": unit_channels}
        context = {k: v for k, v in context.items() if v is not None and self.accepts(k)}
        if self.entry.needs_feat_size and "feat_size" not in context:
            raise ConfigError(f"block {self.entry.name!r} needs the feature-map size, which this "
                              f"insertion point does not know")
        return build(self.entry, (channels,), {**context, **self.options})


def recalibrate_residual(block: nn.Module, takes_identity: bool, residual: torch.Tensor,
                         identity: torch.Tensor) -> torch.Tensor:
    """``block(residual) + identity``; CMPE-SE blocks also see the identity: ``block(residual, identity) + identity``."""
    recalibrated = block(residual, identity) if takes_identity else block(residual)
    return recalibrated + identity
