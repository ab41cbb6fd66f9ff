"""The papers' backbones, and :func:`create_model`, which builds any of them with a block.

The architectures are in :data:`recalib.models.catalog.MODELS` (the backbone families'
``ENTRIES``, added there in one place); :mod:`recalib.models.assembly` puts a backbone and a
block together; :class:`recalib.record.ModelRecord` is what a model is built from and keeps.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from recalib.models._insertion import BlockFactory
from recalib.models.catalog import MODELS, arch_entry, list_models
from recalib.record import ModelRecord

__all__ = ["create_model", "list_models", "arch_entry", "MODELS", "BlockFactory"]


def create_model(arch: str, block: str | None = None, stages: Iterable[int] | None = None,
                 **options: Any) -> nn.Module:
    """Build architecture ``arch`` with ``block`` at the paper's insertion points.

    ``options`` are split by name: those the backbone takes (``num_classes``, ``stride_in_1x1``,
    ``input_size``, …) configure the backbone; every other option configures the block
    (``reduction=16``, ``extent=8``, …). ``stages`` restricts insertion to those stage indices
    (1-based, counting the backbone's residual/dense stages).

    Where a paper fixes a block's setting for this family of backbones, that is the default
    (:mod:`recalib.models.block_defaults`: e.g. MS-SAR ``reduction=16`` on ImageNet backbones);
    explicit options win. ``model.recalib_record`` (a :class:`~recalib.record.ModelRecord`)
    records every option the model was built with, the block's defaults included, so a
    checkpoint rebuilds this very model.
    """
    return ModelRecord(arch, block, options, None if stages is None else tuple(stages)).create()
