"""The recalibration block families and :data:`BLOCKS`, the registry of every block variant.

Each family module declares its variants as ``ENTRIES``; this is the one place that adds them
to the registry. A user adds their own with :func:`recalib.registry.register_block`.

:data:`NO_BLOCK` (``"none"``) is a block name every backbone accepts and no registry holds: no
block at all. It differs from giving no block only on a backbone built with a native gate
(``efficientnet_b0`` has its SE; ``efficientnet_b0+none`` has no gate).
"""
from __future__ import annotations

from typing import Any

from torch import nn

from recalib.blocks.cmpe_se import ENTRIES as CMPE_SE_BLOCKS
from recalib.blocks.contextual import ENTRIES as CONTEXTUAL_BLOCKS
from recalib.blocks.gather_excite import ENTRIES as GATHER_EXCITE_BLOCKS
from recalib.blocks.ms_sar import ENTRIES as MS_SAR_BLOCKS
from recalib.blocks.se import ENTRIES as SE_BLOCKS
from recalib.entries import BlockEntry, Registry, build

__all__ = ["BLOCKS", "NO_BLOCK", "create_block", "list_blocks", "block_entry", "resolve_block", "block_variants"]

BLOCKS: Registry[BlockEntry] = Registry("block", (*SE_BLOCKS, *GATHER_EXCITE_BLOCKS, *CONTEXTUAL_BLOCKS,
                                                  *MS_SAR_BLOCKS, *CMPE_SE_BLOCKS))
NO_BLOCK = "none"


def create_block(name: str, channels: int, **options: object) -> nn.Module:
    """Build the block registered as ``name`` for ``channels`` channels.

    >>> create_block("se", 256, reduction=16)  # doctest: +SKIP
    """
    return build(BLOCKS.get(name), (channels,), options)


def list_blocks() -> list[str]:
    """Every registered block name, sorted."""
    return BLOCKS.names()


def block_entry(name: str) -> BlockEntry:
    """The registry entry (paper, parameter formula, flags) of ``name``."""
    return BLOCKS.get(name)


def resolve_block(name: str) -> BlockEntry | None:
    """The registry entry of block ``name``, or None for :data:`NO_BLOCK` (no block at all)."""
    return None if name == NO_BLOCK else BLOCKS.get(name)


def block_variants() -> list[tuple[str, str, dict[str, Any]]]:
    """``(name, label, options)``: every block with its defaults, then each alternative its paper describes.

    The label is ``"default"`` or the alternative's name (``("ms-sar", "sliding-diamond",
    {"strategy": "sliding-diamond"})``).
    """
    return [(entry.name, label, dict(options)) for entry in BLOCKS
            for label, options in (("default", {}), *entry.alternatives.items())]
