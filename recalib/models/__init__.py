"""The papers' backbones, and :func:`create_model`, which builds any of them with a block.

The architectures are in :data:`recalib.models.catalog.MODELS` (the backbone families'
``ENTRIES``, added there in one place); :mod:`recalib.models.assembly` puts a backbone and a
block together.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from recalib.models._insertion import BlockFactory
from recalib.models.assembly import assemble
from recalib.models.catalog import MODELS, arch_entry, list_models

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
    explicit options win. ``model.recalib_spec["options"]`` records every option the model was
    built with, the block's defaults included, so a checkpoint rebuilds this very model.
    """
    stage_tuple = None if stages is None else tuple(sorted(set(stages)))
    model, effective = assemble(arch, block, stage_tuple, options)
    # What rebuilds this exact architecture: checkpoints store it next to the weights.
    spec_record: dict[str, Any] = {"arch": arch, "block": block,
                                   "stages": None if stage_tuple is None else list(stage_tuple),
                                   "options": effective}
    # object.__setattr__: a plain dict attribute, not registered as a submodule or buffer.
    object.__setattr__(model, "recalib_spec", spec_record)
    return model
