"""The recalibration block families; importing this package registers every variant."""
from __future__ import annotations

import importlib
from typing import Any

from torch import nn

from recalib.registry import BLOCKS, BlockSpec, build

__all__ = ["create_block", "list_blocks", "block_spec", "block_variants"]

_FAMILIES = ("se", "gather_excite", "contextual", "ms_sar", "cmpe_se")
for _family in _FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")


def create_block(name: str, channels: int, **options: object) -> nn.Module:
    """Build the block registered as ``name`` for ``channels`` channels.

    >>> create_block("se", 256, reduction=16)  # doctest: +SKIP
    """
    return build(BLOCKS.get(name), (channels,), options)


def list_blocks() -> list[str]:
    """Every registered block name, sorted."""
    return BLOCKS.names()


def block_spec(name: str) -> BlockSpec:
    """The registry entry (paper, parameter formula, flags) of ``name``."""
    return BLOCKS.get(name)


def block_variants() -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, label, options)``: every block with its defaults, then each alternative its paper describes.

    The label is ``"default"`` or the alternative's name (``("ms-sar", "sliding-diamond",
    {"strategy": "sliding-diamond"})``).
    """
    return [(spec.name, label, dict(options)) for spec in BLOCKS
            for label, options in (("default", {}), *spec.alternatives.items())]
