"""The papers' backbones; importing this package registers every architecture."""
from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any

from torch import nn

from recalib.errors import ConfigError
from recalib.models._insertion import BlockFactory
from recalib.models.block_defaults import with_block_defaults
from recalib.registry import MODELS, ModelSpec, keyword_names, build

__all__ = ["create_model", "list_models", "model_spec", "BlockFactory"]

_FAMILIES = ("resnet", "cifar_resnet", "densenet", "shufflenet", "cc_vgg")
for _family in _FAMILIES:
    importlib.import_module(f"{__name__}.{_family}")


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
    spec = MODELS.get(arch)
    options = with_block_defaults(arch, block, options)
    accepted = keyword_names(spec.builder) or set()
    model_options = {k: v for k, v in options.items() if k in accepted}
    block_options = {k: v for k, v in options.items() if k not in accepted}
    if block is None and block_options:
        valid = sorted(accepted - {"block", "stages"} - set(spec.fixed))
        raise ConfigError(f"model {arch!r} does not take option(s) {', '.join(sorted(block_options))}; "
                          f"valid options: {', '.join(valid)} (block options need block=NAME)")
    stage_set = None if stages is None else frozenset(stages)
    factory = BlockFactory(block, block_options)
    model = build(spec, (), {"block": factory, "stages": stage_set, **model_options})
    # What rebuilds this exact architecture: checkpoints store it next to the weights.
    spec_record: dict[str, Any] = {"arch": arch, "block": block,
                                   "stages": None if stage_set is None else sorted(stage_set),
                                   "options": {**model_options, **factory.effective_options()}}
    # object.__setattr__: a plain dict attribute, not registered as a submodule or buffer.
    object.__setattr__(model, "recalib_spec", spec_record)
    return model


def list_models() -> list[str]:
    """Every registered architecture name, sorted."""
    return MODELS.names()


def model_spec(name: str) -> ModelSpec:
    """The registry entry (paper, nominal input size) of ``name``."""
    return MODELS.get(name)
