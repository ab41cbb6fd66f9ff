"""``stages=`` restricts insertion; unknown stages and options are config errors that say what to do."""
from __future__ import annotations

import pytest
import torch

from recalib import create_model
from recalib.errors import ConfigError, UnknownNameError


def meta(arch: str, **kwargs: object) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model(arch, **kwargs)


@pytest.mark.parametrize(("arch", "stages", "where", "count"), [
    ("resnet50", [2, 4], ("layer2", "layer4"), 4 + 3), ("resnet101", [3], ("layer3",), 23),
    ("preact_resnet164", [1], ("layer1",), 18), ("densenet_bc100", [1, 3], ("dense1", "dense3"), 32),
    ("shufflenet_v1_g3", [2], ("stage2",), 8), ("cc_vgg_cifar100", [4], ("stage4",), 2)])
def test_stages_restrict_insertion(arch: str, stages: list[int], where: tuple[str, ...], count: int) -> None:
    model = meta(arch, block="se", stages=stages, reduction=4)  # DenseNet-BC-100 adds k = 12 channels
    names = [n for n, m in model.named_modules() if n.endswith(".recal") and not isinstance(m, torch.nn.Identity)]
    assert len(names) == count == len(model.recalibration_blocks())
    assert all(n.split(".")[0] in where for n in names)


@pytest.mark.parametrize(("arch", "bad", "valid"), [
    ("resnet50", [5], r"\[1, 2, 3, 4\]"), ("cifar_resnet20", [0, 1], r"\[1, 2, 3\]"),
    ("cc_vgg_mnist", [3], r"\[1, 2\]"), ("densenet_bc100", [], r"\[1, 2, 3\]")])
def test_unknown_stage_lists_the_valid_ones(arch: str, bad: list[int], valid: str) -> None:
    with pytest.raises(ConfigError, match=f"valid stages are {valid}"):
        meta(arch, block="se", stages=bad)


def test_stages_without_a_block_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="without a block"):
        meta("resnet50", stages=[1])


def test_unknown_model_and_block_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="does not take option.*colour.*valid options"):
        meta("resnet50", colour="red")
    with pytest.raises(ConfigError, match="'se' does not take option.*extent"):
        meta("resnet50", block="se", extent=2)
    with pytest.raises(UnknownNameError, match="unknown model 'resnet51'"):
        meta("resnet51")


def test_context_options_are_set_by_the_backbone() -> None:
    with pytest.raises(ConfigError, match="feat_size is set by the backbone"):
        meta("resnet50", block="ge-theta", feat_size=(7, 7))


def test_block_options_reach_every_block() -> None:
    model = meta("resnet50", block="se", reduction=8)
    assert {b.reduction for b in model.recalibration_blocks()} == {8}


@pytest.mark.parametrize("arch", ["cc_vgg_cifar10", "densenet_bc100", "shufflenet_v1_g3"])
def test_identity_blocks_are_refused_at_build_time_where_there_is_no_identity(arch: str) -> None:
    with pytest.raises(ConfigError, match="needs the residual identity"):
        create_model(arch, block="cmpe-se-double-fc")
