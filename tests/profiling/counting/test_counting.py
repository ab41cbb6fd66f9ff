"""Counting by module, parameter categories, the recalibration breakdown and the cross-check."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from recalib.profiling.counting.breakdown import breakdown, recalibration_modules
from recalib.profiling.counting.counts import count_module, count_params
from recalib.profiling.counting.crosscheck import crosscheck
from recalib import create_model
from recalib.errors import ConfigError


def test_parameter_categories_and_bn_statistics() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    table = count_params(model)
    assert table[""] == {"weight": 108 + 8, "bias": 4 + 2, "norm": 8, "norm_stats": 8}
    assert table["1"] == {"norm": 8, "norm_stats": 8}


def test_module_totals_include_children_and_unknown_modules_fail_helpfully() -> None:
    model = nn.Sequential(nn.Sequential(nn.Conv2d(2, 2, 1)), nn.ReLU())
    counts = count_module(model, (1, 2, 3, 3))
    assert counts.total("mac", "0") == counts.total("mac", "0.0") == 2 * 2 * 9
    with pytest.raises(ConfigError, match="no module named"):
        counts.total("mac", "nope")


def test_count_module_restores_training_mode() -> None:
    model = nn.Sequential(nn.Conv2d(2, 2, 1), nn.BatchNorm2d(2)).train()
    count_module(model, (1, 2, 3, 3))
    assert model.training


@pytest.fixture(scope="module")
def se_resnet20() -> tuple[nn.Module, object]:
    torch.manual_seed(0)
    model = create_model("cifar_resnet20", "se", reduction=4)
    return model, count_module(model, (1, 3, 32, 32))


def test_breakdown_finds_one_block_per_residual_unit(se_resnet20: tuple) -> None:
    model, counts = se_resnet20
    names = [name for name, _ in recalibration_modules(model)]
    assert len(names) == 9 and all(not a.startswith(b + ".") for a in names for b in names)


def test_breakdown_shares_add_up_to_the_difference_with_the_bare_model(se_resnet20: tuple) -> None:
    model, counts = se_resnet20
    bare = count_module(create_model("cifar_resnet20"), (1, 3, 32, 32))
    split = breakdown(model, counts, "mac-all", "params")
    assert split.recal_params == counts.total("params") - bare.total("params")
    assert split.recal_flops == pytest.approx(counts.total("mac-all") - bare.total("mac-all"))
    assert 0 < split.flop_share < split.param_share < 1


def test_crosscheck_agrees_with_flop_counter(se_resnet20: tuple) -> None:
    model, counts = se_resnet20
    check = crosscheck(model, counts)
    assert check.ok, check.describe()
    assert check.torch_flops == 2 * counts.total("mac")
