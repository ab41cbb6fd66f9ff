"""Squeeze-and-Excitation: exact numerics, the official parameter layout, and configuration errors."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from fvcore.nn import FlopCountAnalysis

from recalib import create_block
from recalib.blocks.se import ExciteMLP, SqueezeExcite
from recalib.errors import ConfigError

RESNET50 = 25_557_032
RESNET50_WIDTHS = [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3  # bottleneck outputs


def reference_se(block: SqueezeExcite, x: torch.Tensor, squeeze: torch.Tensor) -> torch.Tensor:
    """SE Eqs. 3–4 written out with the block's weights: x · σ(W₂ δ(W₁ z + b₁) + b₂)."""
    mlp = block.mlp
    hidden = F.relu(F.conv2d(squeeze, mlp.reduce.weight, mlp.reduce.bias))
    return x * torch.sigmoid(F.conv2d(hidden, mlp.expand.weight, mlp.expand.bias))


def test_default_squeeze_is_global_average_pooling() -> None:
    block = create_block("se", 32, reduction=4)
    x = torch.randn(2, 32, 5, 7)
    torch.testing.assert_close(block(x), reference_se(block, x, x.mean((2, 3), keepdim=True)))


def test_pool_max_squeezes_by_the_channel_maximum() -> None:
    block = create_block("se", 32, reduction=4, pool="max")
    x = torch.randn(2, 32, 5, 7)
    expected = reference_se(block, x, x.amax((2, 3), keepdim=True))
    torch.testing.assert_close(block(x), expected)
    assert not torch.allclose(block(x), reference_se(block, x, x.mean((2, 3), keepdim=True)))


def test_excite_mlp_is_two_biased_1x1_convs_with_floor_hidden_width() -> None:
    block = create_block("se", 40, reduction=16)  # 40 // 16 = 2: floor, as the official code
    assert isinstance(block.mlp, ExciteMLP)
    shapes = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    assert shapes == {"mlp.reduce.weight": (2, 40, 1, 1), "mlp.reduce.bias": (2,),
                      "mlp.expand.weight": (40, 2, 1, 1), "mlp.expand.bias": (40,)}
    assert block.formula_params() == 2 * 40 * 2 + 2 + 40


def test_without_biases_the_fc_layers_hold_weights_only_as_in_the_cmpe_se_code() -> None:
    block = create_block("se", 40, reduction=16, bias=False)
    shapes = {k: tuple(v.shape) for k, v in block.state_dict().items()}
    assert shapes == {"mlp.reduce.weight": (2, 40, 1, 1), "mlp.expand.weight": (40, 2, 1, 1)}
    assert block.formula_params() == sum(p.numel() for p in block.parameters()) == 2 * 40 * 2
    x = torch.randn(2, 40, 3, 3)
    mlp = block.mlp
    expected = x * torch.sigmoid(F.conv2d(F.relu(F.conv2d(x.mean((2, 3), keepdim=True), mlp.reduce.weight)),
                                          mlp.expand.weight))
    torch.testing.assert_close(block(x), expected)


def test_se_resnet50_totals_the_official_28088024_parameters() -> None:
    blocks = [SqueezeExcite(c) for c in RESNET50_WIDTHS]
    added = sum(p.numel() for b in blocks for p in b.parameters())
    fc_weights = sum(b.mlp.reduce.weight.numel() + b.mlp.expand.weight.numel() for b in blocks)
    assert RESNET50 + added == 28_088_024
    assert fc_weights == 2_514_944
    assert sum(b.formula_params() for b in blocks) == added


def test_channels_smaller_than_reduction_is_a_config_error_naming_both() -> None:
    with pytest.raises(ConfigError, match=r"channels \(8\) smaller than the reduction ratio r=16"):
        create_block("se", 8)


@pytest.mark.parametrize("pool", ["min", "mean", None])
def test_unknown_pool_is_a_config_error_listing_the_choices(pool: object) -> None:
    with pytest.raises(ConfigError, match="pool must be one of 'avg', 'max'"):
        create_block("se", 32, pool=pool)


def test_options_of_other_families_are_rejected_not_ignored() -> None:
    with pytest.raises(ConfigError, match="does not take option.*extent"):
        create_block("se", 32, extent=2)


@pytest.mark.parametrize("pool", ["avg", "max"])
def test_compiles_without_graph_breaks_and_traces_for_fvcore(pool: str) -> None:
    block = create_block("se", 32, reduction=4, pool=pool).eval()
    x = torch.randn(2, 32, 7, 5)
    compiled = torch.compile(block, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), block(x))
    flops = FlopCountAnalysis(block, x).unsupported_ops_warnings(False)
    assert flops.total() == 2 * (32 * 8 + 8 * 32)  # the two 1×1 convs on the (N, C, 1, 1) squeeze


# --- the options that express mobile networks' native gates ----------------------------------------------


def test_hard_sigmoid_gate_and_silu_activation_follow_their_definitions() -> None:
    """MobileNetV3's gate relu6(z + 3) / 6 and EfficientNet's δ = z · sigmoid(z), written out."""
    x = torch.randn(2, 32, 5, 7)
    for activation, gate in (("silu", "sigmoid"), ("relu", "hard-sigmoid")):
        block = create_block("se", 32, reduction=4, activation=activation, gate=gate)
        mlp = block.mlp
        z = F.conv2d(x.mean((2, 3), keepdim=True), mlp.reduce.weight, mlp.reduce.bias)
        z = z * torch.sigmoid(z) if activation == "silu" else F.relu(z)
        z = F.conv2d(z, mlp.expand.weight, mlp.expand.bias)
        scale = torch.sigmoid(z) if gate == "sigmoid" else torch.clamp(z + 3, 0, 6) / 6
        torch.testing.assert_close(block(x), x * scale)


@pytest.mark.parametrize(("gated", "expected"), [(72, 24), (120, 32), (240, 64), (480, 120), (672, 168), (960, 240)])
def test_round_to_eight_gives_mobilenet_v3_large_hidden_widths(gated: int, expected: int) -> None:
    """Howard et al. 2019 (torchvision's weights): the nearest multiple of 8 to C // 4, never 10% below it."""
    assert create_block("se", gated, reduction=4, round_to=8).mlp.hidden == expected


def test_hidden_width_from_the_unit_input_is_what_the_backbone_gives() -> None:
    """EfficientNet's MBConv with 24 input channels expands to 144 and gates with 24 // 4 = 6 hidden channels."""
    block = SqueezeExcite(144, reduction=4, hidden_from="unit-input", unit_channels=24)
    assert block.mlp.hidden == 6 and block.formula_params() == 2 * 144 * 6 + 6 + 144
    with pytest.raises(ConfigError, match="hidden_from='unit-input'.*does not give; use hidden_from='channels'"):
        create_block("se", 144, reduction=4, hidden_from="unit-input")


@pytest.mark.parametrize(("option", "value", "choices"), [
    ("gate", "hard", "'sigmoid', 'hard-sigmoid'"), ("activation", "gelu", "'relu', 'silu'"),
    ("hidden_from", "input", "'channels', 'unit-input'")])
def test_an_unknown_native_gate_option_is_a_config_error_listing_the_choices(option: str, value: str,
                                                                              choices: str) -> None:
    with pytest.raises(ConfigError, match=f"{option} must be one of {choices}, got '{value}'"):
        SqueezeExcite(32, reduction=4, **{option: value})
