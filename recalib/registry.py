"""Register your own blocks and architectures, next to the library's.

The library's own entries are declared by their family modules and added where each registry
lives (:data:`recalib.blocks.BLOCKS`, :data:`recalib.models.catalog.MODELS`); these two calls
add yours, after which every part of recalib (specifications, ``create_model``, checkpoints,
export) knows the name::

    from recalib.registry import register_model

    def build_tiny(*, block, stages, num_classes: int = 10, input_size=(32, 32)):
        ...  # a module that calls block(channels, feat_size=...) at each insertion point

    register_model("tiny", build_tiny, paper="mine", summary="a tiny net", input_size=(32, 32),
                   dataset="cifar")
    model = recalib.create_model("tiny", "se", reduction=4)

A builder takes ``block`` (a :class:`recalib.models.BlockFactory`) and ``stages`` as keywords,
with every option it accepts as a typed keyword: options are checked against those annotations
(:func:`recalib.entries.check_options`). A name registered twice is refused.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from recalib.blocks import BLOCKS
from recalib.entries import ArchEntry, BlockEntry
from recalib.models.catalog import MODELS

__all__ = ["register_block", "register_model"]


def register_block(name: str, builder: Callable[..., nn.Module], *, paper: str, params: str,
                   summary: str, fixed: Mapping[str, Any] | None = None,
                   takes_identity: bool = False, needs_feat_size: bool = False,
                   alternatives: Mapping[str, Mapping[str, Any]] | None = None) -> BlockEntry:
    """Register ``builder`` (usually a block class) under ``name`` with the variant's fixed options
    (the fields are those of :class:`recalib.entries.BlockEntry`)."""
    return BLOCKS.add(BlockEntry(name, builder, paper, params, summary, fixed or {}, takes_identity,
                                 needs_feat_size, alternatives or {}))


def register_model(name: str, builder: Callable[..., nn.Module], *, paper: str, summary: str,
                   input_size: tuple[int, int], dataset: str, in_channels: int = 3,
                   fixed: Mapping[str, Any] | None = None) -> ArchEntry:
    """Register a backbone builder under ``name`` with its nominal input size and dataset
    (the fields are those of :class:`recalib.entries.ArchEntry`)."""
    return MODELS.add(ArchEntry(name, builder, paper, summary, input_size, dataset, in_channels, fixed or {}))
