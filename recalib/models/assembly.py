"""How an architecture is put together with a block: one function, :func:`assemble`.

The options of a model are split by name: those the backbone's builder takes configure the
backbone; every other option configures the block. No block named means the backbone's native
block where it has one (:attr:`recalib.entries.ArchEntry.native`, EfficientNet's SE), which is
part of the architecture like its widths: its options are the entry's, not recorded with the
model. Block ``"none"`` (:data:`recalib.blocks.NO_BLOCK`) means no block at all. Where a paper
fixes a block's setting for a family of backbones, that is the default
(:mod:`recalib.models.block_defaults`); explicit options win. The options the model was built
with, the block's defaults included, come back with it, so a record of them rebuilds this very
model (:class:`recalib.record.ModelRecord`, which is what calls this).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from recalib.blocks import BLOCKS, resolve_block
from recalib.entries import ArchEntry, build
from recalib.errors import ConfigError
from recalib.models.block_defaults import with_block_defaults
from recalib.models.catalog import MODELS
from recalib.models._insertion import BlockFactory

__all__ = ["assemble"]


def assemble(arch: str, block: str | None, stages: tuple[int, ...] | None,
             options: Mapping[str, Any]) -> tuple[nn.Module, dict[str, Any]]:
    """Architecture ``arch`` with ``block`` at the paper's insertion points (of ``stages`` only, if
    given), and every option it was built with."""
    entry = MODELS.get(arch)
    options = with_block_defaults(entry, block, options)
    accepted = entry.option_names()
    model_options = {k: v for k, v in options.items() if k in accepted}
    block_options = {k: v for k, v in options.items() if k not in accepted}
    if block is None and block_options:
        valid = sorted(accepted - {"block", "stages"} - set(entry.fixed))
        raise ConfigError(f"model {arch!r} does not take option(s) {', '.join(sorted(block_options))}; "
                          f"valid options: {', '.join(valid)} (block options need block=NAME)")
    native = block is None and entry.native is not None
    chosen = None if block is None else resolve_block(block)
    factory = _native(entry) if native else BlockFactory(chosen, block_options)
    stage_set = None if stages is None else frozenset(stages)
    model = build(entry, (), {"block": factory, "stages": stage_set, **model_options})
    return model, {**model_options, **({} if native else factory.effective_options())}


def _native(entry: ArchEntry) -> BlockFactory:
    """The factory of ``entry``'s native block, with the entry's options."""
    assert entry.native is not None
    return BlockFactory(BLOCKS.get(entry.native.block), entry.native.options)
