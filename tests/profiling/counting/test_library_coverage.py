"""Every library model and block is counted completely: no unsupported op, core agrees with torch.

The op kinds a model emits come from its backbone, its insertion path (plain, identity-taking,
multi-stage) and its blocks, so this covers every backbone bare and with a block, and every
block on a small host. Sizes are the smallest each model allows, to keep the suite fast.
"""
from __future__ import annotations

import pytest
import torch

from recalib.profiling.counting.counts import count_module
from recalib.profiling.counting.crosscheck import crosscheck
from recalib import arch_entry, create_model, list_models
from recalib.blocks import block_variants
from recalib.errors import RecalibError

#: Blocks tried in turn on each backbone: the first that the backbone accepts at the test size.
#: Identity-taking and multi-stage blocks come first so their insertion paths are exercised.
_BLOCK_PREFERENCE = ("cmpe-se-pair-1x1", "ms-sar", "cc-reduced", "ge-theta-plus", "se")
#: The CC paper's VGG nets have no residual identity; their paper's block is the CC block.
_VGG_PREFERENCE = ("cc-reduced",)
_HOSTS = ("cifar_resnet20", "wrn16_8", "cc_vgg_cifar10")


def _size(arch: str) -> tuple[int, int]:
    nominal = arch_entry(arch).input_size
    return (32, 32) if nominal[0] > 64 else nominal


def _assert_complete(model: torch.nn.Module, arch: str) -> None:
    shape = (1, arch_entry(arch).in_channels, *_size(arch))
    counts = count_module(model, shape)
    assert not counts.unsupported, f"{arch}: ops without a handle: {dict(counts.unsupported)}"
    check = crosscheck(model, counts)
    assert check.ok, f"{arch}: {check.describe()}"


def _first_block(arch: str, extra: dict) -> torch.nn.Module:
    for block in _VGG_PREFERENCE if arch.startswith("cc_vgg") else _BLOCK_PREFERENCE:
        try:
            return create_model(arch, block, input_size=_size(arch), **extra)
        except RecalibError:
            continue
    pytest.fail(f"{arch} accepts none of {_BLOCK_PREFERENCE}")


# Deeper siblings of backbones counted in the default run: the same layer types, only more of them.
DEEPER = {"cifar_resnet110", "densenet_bc190", "preact_resnet101_imagenet", "preact_resnet110",
          "preact_resnet152_imagenet", "preact_resnet164", "resnet101", "resnet152", "wrn22_10", "wrn28_10"}


@pytest.mark.parametrize("arch", [pytest.param(a, marks=pytest.mark.slow) if a in DEEPER else a for a in list_models()])
def test_every_backbone_bare_and_with_a_block_is_counted_completely(arch: str) -> None:
    _assert_complete(create_model(arch, input_size=_size(arch)), arch)
    extra = {"recalibration": "multi-stage"} if arch.startswith("densenet") else {}
    _assert_complete(_first_block(arch, extra), arch)


@pytest.mark.parametrize(("block", "options"), [(name, options) for name, _, options in block_variants()],
                         ids=[name if label == "default" else f"{name}[{label}]"
                              for name, label, _ in block_variants()])
def test_every_block_is_counted_completely(block: str, options: dict) -> None:
    """Each block with its defaults and with each alternative setting its paper describes."""
    for host in _HOSTS:
        try:
            model = create_model(host, block, **options)
        except RecalibError:
            continue
        _assert_complete(model, host)
        return
    pytest.fail(f"no test host accepts block {block!r}; add one to _HOSTS")
