"""CIFAR ResNets (original, pre-activation) and Wide ResNets: counts, units, identity for CMPE-SE."""
from __future__ import annotations

import pytest
import torch

from model_testing import n_params
from recalib import create_model
from recalib.errors import ConfigError
from recalib.models.cifar_resnet import BasicUnit, PreActBottleneck, PreActUnit

# exact totals (10 classes), with the figure the papers print and the digits they round to
COUNTS = [
    ("cifar_resnet20", 269_722, 0.27, 2),  # MS-SAR Table 2
    ("cifar_resnet32", 464_154, 0.46, 2),
    ("cifar_resnet56", 853_018, 0.85, 2),
    ("cifar_resnet110", 1_727_962, 1.7, 1),  # He et al. 2016: 1.7M
    ("preact_resnet110", 1_730_522, 1.7, 1),  # CMPE-SE Table 1
    ("preact_resnet164", 1_703_258, 1.7, 1),
    ("wrn16_8", 10_961_370, 11.0, 1),  # Zagoruyko & Komodakis Table
    ("wrn22_10", 26_797_914, 26.8, 1),  # CMPE-SE Table 2
    ("wrn28_10", 36_479_194, 36.5, 1),
]


@pytest.mark.parametrize(("arch", "exact", "paper", "digits"), COUNTS, ids=lambda v: str(v))
def test_parameter_count_matches_the_papers(arch: str, exact: int, paper: float, digits: int) -> None:
    with torch.device("meta"):
        count = n_params(create_model(arch))
    assert count == exact
    assert round(count / 1e6, digits) == paper


@pytest.mark.parametrize(("arch", "unit", "per_stage"), [
    ("cifar_resnet56", BasicUnit, 9), ("preact_resnet110", PreActUnit, 18),
    ("preact_resnet164", PreActBottleneck, 18), ("wrn28_10", PreActUnit, 4)])
def test_layout_has_the_papers_units_per_stage(arch: str, unit: type, per_stage: int) -> None:
    with torch.device("meta"):
        model = create_model(arch)
    for layer in (model.layer1, model.layer2, model.layer3):
        assert len(layer) == per_stage and all(type(u) is unit for u in layer)


def test_original_resnet_uses_parameter_free_option_a_shortcuts() -> None:
    model = create_model("cifar_resnet20")
    out = model.layer2[0].shortcut(torch.ones(1, 16, 8, 8))
    assert out.shape == (1, 32, 4, 4) and float(out[:, 16:].abs().sum()) == 0
    assert sum(p.numel() for p in model.layer2[0].shortcut.parameters()) == 0


@pytest.mark.parametrize(("depth", "exact"), [(20, 272_474), (56, 855_770)])
def test_option_b_projects_where_the_shape_changes(depth: int, exact: int) -> None:
    model = create_model(f"cifar_resnet{depth}", shortcut="B")
    projection = model.layer2[0].shortcut
    assert [type(m).__name__ for m in projection] == ["Conv2d", "BatchNorm2d"]
    assert projection(torch.ones(1, 16, 8, 8)).shape == (1, 32, 4, 4)
    assert type(model.layer2[1].shortcut).__name__ == "Identity"
    # two projections, 16→32 and 32→64, each with its BN: 512 + 64 + 2048 + 128 parameters
    assert n_params(model) == exact == n_params(create_model(f"cifar_resnet{depth}")) + 2_752
    with pytest.raises(ConfigError, match="shortcut"):
        create_model("cifar_resnet20", shortcut="C")


def test_cmpe_se_sees_the_projection_of_the_preactivated_input() -> None:
    with torch.device("meta"):
        model = create_model("preact_resnet164", block="cmpe-se-pair-1x1").eval()
    unit, seen = model.layer2[0], {}
    unit.shortcut.register_forward_hook(lambda m, a, out: seen.__setitem__("shortcut", out))
    unit.recal.register_forward_pre_hook(lambda m, args: seen.__setitem__("args", args))
    model(torch.empty(1, 3, 16, 16, device="meta"))
    residual, identity = seen["args"]
    assert identity is seen["shortcut"]
    assert residual.shape == identity.shape == (1, 128, 8, 8)
    assert unit.recal.width == 32  # the bottleneck width, for the pair-view filter count


def test_wrn_blocks_see_the_wide_channels() -> None:
    with torch.device("meta"):
        model = create_model("wrn16_8", block="se")
    assert [b.channels for b in model.recalibration_blocks()] == [128] * 2 + [256] * 2 + [512] * 2


def test_wrn_dropout_sits_between_the_convs_and_only_acts_in_training() -> None:
    torch.manual_seed(0)
    plain, dropped = create_model("wrn16_8"), create_model("wrn16_8", dropout=0.3)
    dropped.load_state_dict(plain.state_dict())  # no parameters added
    unit, seen = dropped.layer1[0], {}
    unit.dropout.register_forward_pre_hook(lambda m, args: seen.__setitem__("in", args[0]))
    unit.conv2.register_forward_pre_hook(lambda m, args: seen.__setitem__("conv2", args[0]))
    x = torch.randn(2, 3, 32, 32)
    plain.eval(), dropped.eval()
    with torch.no_grad():
        assert torch.equal(plain(x), dropped(x))
        dropped.train()
        dropped(x)
    assert isinstance(unit.dropout, torch.nn.Dropout) and unit.dropout.p == 0.3
    active = seen["in"] != 0
    dropped_fraction = float((seen["conv2"][active] == 0).float().mean())
    assert 0.25 < dropped_fraction < 0.35  # 30% of the ReLU's nonzero outputs, over ~130k of them


@pytest.mark.parametrize("bad", [-0.1, 1.0, "0.3", True])
def test_wrn_dropout_must_be_a_probability(bad: object) -> None:
    with pytest.raises(ConfigError, match="dropout must be a (probability|number)"):
        create_model("wrn16_8", dropout=bad)
