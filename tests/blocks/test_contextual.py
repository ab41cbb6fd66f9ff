"""Contextual Convolution blocks: EMP maps, coefficient range, downsampling, static gates, errors."""
from __future__ import annotations

import math

import pytest
import torch

from recalib import create_block
from recalib.blocks.contextual import ContextualConv, squash
from recalib.blocks.emp import excitation_map
from recalib.errors import ConfigError, ShapeError

INPUT_DEPENDENT = ["cc-full", "cc-no-mix", "cc-no-ch", "cc-reduced", "cc-scalar", "cc-full-scalar"]


def coefficients(*values: float) -> torch.Tensor:
    return torch.tensor([values])  # (1, 4): one channel


def test_bilinear_map_follows_equation_2() -> None:
    # initial^w=0.6, end^w=1.4, initial^h=0.8, end^h=1.2 on a 2x4 map; u = x/W = 0, .25, .5, .75
    along_w = torch.tensor([0.6, 0.8, 1.0, 1.2])
    along_h = torch.tensor([0.8, 1.0])
    got = excitation_map("bilinear", coefficients(0.6, 1.4, 0.8, 1.2), (2, 4))[0]
    torch.testing.assert_close(got, along_h[:, None] * along_w[None, :])
    assert got[0, 0].item() == pytest.approx(0.6 * 0.8)  # the origin corner is initial^w * initial^h


def test_gaussian_map_is_unnormalised_gaussian_plus_half() -> None:
    # x = u = x/W (the "unit" reading); width: mu=0.5, sigma=0.5 at u = 0, 0.5 -> exp(-1/2)+.5, 1.5;
    # height: mu=1, sigma=1 at u=0
    low = math.exp(-0.5) + 0.5
    got = excitation_map("gaussian", coefficients(0.5, 0.5, 1.0, 1.0), (1, 2), "unit")[0]
    torch.testing.assert_close(got, torch.tensor([[low * low, 1.5 * low]]))


def test_sine_map_is_half_sine_plus_one() -> None:
    # x = u = x/W (the "unit" reading); width: v=pi, phi=0 at u = 0, 0.5 -> 1, 1.5;
    # height: v=0, phi=pi/2 -> 1.5 everywhere
    got = excitation_map("sine", coefficients(math.pi, 0.0, 0.0, math.pi / 2), (2, 2), "unit")[0]
    torch.testing.assert_close(got, torch.tensor([[1.5, 2.25], [1.5, 2.25]]))


def test_squash_keeps_coefficients_between_half_and_one_and_a_half() -> None:
    extreme = torch.tensor([-1e30, -1e4, -3.0, 0.0, 3.0, 1e4, 1e30])
    got = squash(extreme)
    assert ((got >= 0.5) & (got <= 1.5)).all()
    assert got[3].item() == 1.0  # zero maps to the pass-through gate
    assert ((got[2:5] > 0.5) & (got[2:5] < 1.5)).all()


def test_other_coefficient_range_is_tanh() -> None:
    z = torch.tensor([-1e30, -3.0, 0.0, 0.5, 1e30])
    torch.testing.assert_close(squash(z, "-1..1"), torch.tanh(z))
    assert squash(z, "-1..1")[2].item() == 0.0


def test_scalar_block_in_the_other_range_gates_by_tanh_of_its_layer() -> None:
    """cc-scalar, one channel, 2x2 map (the grid): gate = tanh(w · x + b), in (-1, 1), by hand."""
    block = create_block("cc-scalar", 1, feat_size=(2, 2), coefficient_range="-1..1")
    weight, bias = torch.tensor([[0.5, -1.0], [2.0, 0.25]]), 0.3
    with torch.no_grad():
        block.net.project.weight.copy_(weight.reshape(1, 1, 2, 2))
        block.net.project.bias.fill_(bias)
    x = torch.tensor([[[[1.0, 2.0], [-0.5, 4.0]]]])
    gate = math.tanh(0.5 * 1.0 - 1.0 * 2.0 + 2.0 * -0.5 + 0.25 * 4.0 + bias)  # tanh(-1.2)
    torch.testing.assert_close(block(x), x * gate)


def test_other_range_gives_the_bilinear_map_its_coefficients_unshifted() -> None:
    block = create_block("cc-reduced", 1, feat_size=(1, 2), coefficient_range="-1..1")
    with torch.no_grad():
        block.net.project.weight.zero_()
        block.net.project.bias.copy_(torch.tensor([0.2, -0.4, 0.6, 0.1]))
    x = torch.ones(1, 1, 1, 2)
    t = torch.tanh(torch.tensor([0.2, -0.4, 0.6, 0.1]))
    # u = 0, 1/2 along W; u = 0 along H, so the height factor is its initial value t[2]
    expected = t[2] * torch.stack((t[0], t[0] / 2 + t[1] / 2))
    torch.testing.assert_close(block(x).flatten(), expected)


def test_gaussian_refuses_the_range_that_reaches_sigma_zero() -> None:
    with pytest.raises(ConfigError, match="σ.*reach 0"):
        create_block("cc-reduced", 2, feat_size=(4, 4), emp="gaussian", coefficient_range="-1..1")
    with pytest.raises(ConfigError, match=r"'0..1'.*0.5..1.5, -1..1"):
        create_block("cc-reduced", 2, feat_size=(4, 4), coefficient_range="0..1")


def test_full_scalar_parameters_follow_the_formula() -> None:
    """C*h*(g+1) + C*h*(h+1) + C*(C*h+1), C = 8, h = 4, g = 6*6: 1184 + 160 + 264."""
    block = create_block("cc-full-scalar", 8, feat_size=(6, 6))
    assert sum(p.numel() for p in block.parameters()) == 1608 == block.formula_params()


def test_full_scalar_gate_by_hand() -> None:
    """Two channels, 1x1 map, hidden 1: CH is a·x + b -> ReLU -> c·y + d -> ReLU, MIX a dense 2 -> 2."""
    block = create_block("cc-full-scalar", 2, feat_size=(1, 1), hidden=1)
    params = {"ch1": ([0.5, -2.0], [0.1, 0.2]), "ch2": ([1.5, 0.5], [-0.2, 0.3])}
    with torch.no_grad():
        for layer, (weight, bias) in params.items():
            getattr(block.net, layer).weight.copy_(torch.tensor(weight).reshape(2, 1, 1, 1))
            getattr(block.net, layer).bias.copy_(torch.tensor(bias))
        block.net.mix.weight.copy_(torch.tensor([[1.0, -1.0], [0.5, 2.0]]).reshape(2, 2, 1, 1))
        block.net.mix.bias.copy_(torch.tensor([0.0, -0.5]))
    x = torch.tensor([2.0, -1.0]).reshape(1, 2, 1, 1)
    hidden = [max(0.0, 1.5 * max(0.0, 0.5 * 2.0 + 0.1) - 0.2), max(0.0, 0.5 * max(0.0, -2.0 * -1.0 + 0.2) + 0.3)]
    z = [hidden[0] - hidden[1], 0.5 * hidden[0] + 2.0 * hidden[1] - 0.5]
    gate = torch.tanh(torch.tensor(z)) / 2 + 1
    torch.testing.assert_close(block(x).flatten(), x.flatten() * gate)


@pytest.mark.parametrize("name", INPUT_DEPENDENT)
def test_gate_stays_bounded_for_extreme_inputs(name: str) -> None:
    block = create_block(name, 4, feat_size=(12, 12))
    x = torch.randn(2, 4, 12, 12) * 1e6
    gate = block(x) / x
    low, high = (0.5, 1.5) if name.endswith("scalar") else (0.25, 2.25)  # bilinear: product of two factors
    assert torch.isfinite(gate).all()
    assert gate.min() >= low - 1e-6 and gate.max() <= high + 1e-6


def test_downsample_takes_nearest_pixels_to_eleven_by_eleven() -> None:
    block = ContextualConv(3, ch=False, mix=False)
    x = torch.randn(1, 3, 23, 30)
    rows = [i * 23 // 11 for i in range(11)]  # nearest (floor) source index of each grid cell
    cols = [j * 30 // 11 for j in range(11)]
    torch.testing.assert_close(block.downsample(x), x[:, :, rows][:, :, :, cols])


def test_downsample_keeps_sides_already_smaller_than_the_grid() -> None:
    block = ContextualConv(3, ch=False, mix=False, feat_size=(8, 30))
    assert block.grid == (8, 11)
    x = torch.randn(1, 3, 8, 30)
    torch.testing.assert_close(block.downsample(x), x[:, :, :, [j * 30 // 11 for j in range(11)]])
    small = ContextualConv(3, ch=False, mix=False, feat_size=(5, 7))
    x = torch.randn(1, 3, 5, 7)
    assert torch.equal(small.downsample(x), x)


def test_grid_size_option_sets_the_downsample_target() -> None:
    block = ContextualConv(2, ch=False, mix=False, grid_size=5)
    assert block.grid == (5, 5)
    assert block(torch.randn(1, 2, 9, 6)).shape == (1, 2, 9, 6)


@pytest.mark.parametrize("emp", ["bilinear", "gaussian", "sine"])
def test_static_block_is_a_fixed_map_times_x(emp: str) -> None:
    block = create_block("cc-static", 3, feat_size=(5, 7), emp=emp)
    with torch.no_grad():
        block.theta.normal_()
    block.eval()
    gate = block.constant_gate()
    assert gate.shape == (3, 5, 7)
    for _ in range(2):  # the same map for unrelated inputs
        x = torch.randn(2, 3, 5, 7)
        torch.testing.assert_close(block(x), x * gate)


def test_static_bilinear_block_starts_as_identity() -> None:
    block = create_block("cc-static", 3, feat_size=(4, 6))
    torch.testing.assert_close(block.constant_gate(), torch.ones(3, 4, 6))


def test_static_scalar_gate_is_one_scale_per_channel() -> None:
    block = create_block("cc-static-scalar", 3)
    with torch.no_grad():
        block.theta.copy_(torch.tensor([-2.0, 0.0, 2.0]))
    block.eval()
    gate = block.constant_gate()
    assert gate.shape == (3, 1, 1)
    x = torch.randn(2, 3, 5, 9)
    torch.testing.assert_close(block(x), x * gate)
    torch.testing.assert_close(gate.flatten(), squash(torch.tensor([-2.0, 0.0, 2.0])))


def test_input_dependent_scalar_gate_is_constant_over_space() -> None:
    block = create_block("cc-scalar", 3, feat_size=(13, 9))
    x = torch.rand(2, 3, 13, 9) + 0.5  # away from zero so the ratio is well defined
    gate = block(x) / x
    torch.testing.assert_close(gate, gate[:, :, :1, :1].expand_as(gate))


@pytest.mark.parametrize("size", [(1, 1), (5, 17), (23, 11), (12, 7)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", ["cc-full", "cc-reduced", "cc-static"])
def test_odd_and_non_divisible_sizes_work(name: str, size: tuple[int, int]) -> None:
    block = create_block(name, 3, feat_size=size)
    x = torch.randn(2, 3, *size)
    assert block(x).shape == x.shape


def test_input_dependent_block_accepts_any_size_with_the_same_grid() -> None:
    block = create_block("cc-reduced", 2)  # no feat_size: sides of at least 11
    for size in [(11, 11), (16, 40), (33, 12)]:
        assert block(torch.randn(1, 2, *size)).shape == (1, 2, *size)
    with pytest.raises(ShapeError, match=r"reduces to 8x11.*feat_size=\(8, 20\)"):
        block(torch.randn(1, 2, 8, 20))


@pytest.mark.parametrize("name", INPUT_DEPENDENT + ["cc-static"])
@pytest.mark.parametrize("emp", ["gaussian", "sine"])
def test_every_spatial_variant_takes_the_alternative_emps(name: str, emp: str) -> None:
    if name.endswith("scalar"):
        with pytest.raises(ConfigError, match="emp"):
            create_block(name, 2, feat_size=(6, 6), emp=emp)
        return
    block = create_block(name, 2, feat_size=(6, 6), emp=emp)
    assert block(torch.randn(1, 2, 6, 6)).shape == (1, 2, 6, 6)


@pytest.mark.parametrize("name", ["cc-full", "cc-static"])
def test_unknown_emp_is_a_config_error_listing_the_choices(name: str) -> None:
    with pytest.raises(ConfigError, match=r"'cubic'.*bilinear, gaussian, sine"):
        create_block(name, 4, feat_size=(6, 6), emp="cubic")


def test_static_block_rejects_another_feature_size() -> None:
    block = create_block("cc-static", 4, feat_size=(6, 6))
    with pytest.raises(ShapeError, match=r"6x6.*got 7x6"):
        block(torch.randn(1, 4, 7, 6))


def test_small_map_needs_its_size_at_construction() -> None:
    block = create_block("cc-full", 4, feat_size=(8, 8))
    with pytest.raises(ShapeError, match=r"8x8 context grid.*feat_size=\(4, 4\)"):
        block(torch.randn(1, 4, 4, 4))


@pytest.mark.parametrize("name", INPUT_DEPENDENT + ["cc-static", "cc-static-scalar"])
def test_wrong_channel_count_is_named(name: str) -> None:
    block = create_block(name, 4, **({} if name == "cc-static-scalar" else {"feat_size": (6, 6)}))
    with pytest.raises(ShapeError, match="built for 4 channels but got 3"):
        block(torch.randn(1, 3, 6, 6))


@pytest.mark.parametrize(("name", "options", "message"), [
    ("cc-static", {}, "needs the feature-map size"),
    ("cc-reduced", {"hidden": 8}, "no CH"),
    ("cc-full", {"hidden": 0}, "hidden must be a positive integer"),
    ("cc-full", {"grid_size": 0}, "grid_size must be a positive integer"),
    ("cc-reduced", {"coefficients": 2}, "fixes coefficients=4"),
    ("cc-static", {"feat_size": (0, 4)}, "feat_size"),
    ("cc-static-scalar", {"emp": "sine"}, "does not take option"),
])
def test_invalid_options_are_config_errors_naming_the_problem(name: str, options: dict[str, object],
                                                              message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_block(name, 4, **options)


def test_coefficient_count_must_be_one_or_four() -> None:
    with pytest.raises(ConfigError, match="must be 4.*or 1"):
        ContextualConv(4, coefficients=3)


@pytest.mark.parametrize("ch", [True, False])
@pytest.mark.parametrize("mix", [True, False])
def test_formula_holds_for_non_default_hidden_and_grid(ch: bool, mix: bool) -> None:
    block = ContextualConv(5, ch=ch, mix=mix, hidden=3 if ch else None, grid_size=4, feat_size=(3, 9))
    assert block.grid == (3, 4)
    assert block.formula_params() == sum(p.numel() for p in block.parameters())


def _cifar100_table1(width: int) -> tuple[int, list[tuple[int, int]]]:
    """Plain parameters of Table 1's CIFAR-100 net and its (channels, side) after each conv."""
    total, c_in, points = 0, 3, []
    for stage in range(4):
        c = width * 2 ** stage
        for _ in range(2):
            total += 9 * c_in * c + c
            c_in = c
            points.append((c, 32 >> stage))
    return total + (4 * c_in * 128 + 128) + (128 * 100 + 100), points


@pytest.mark.parametrize(("name", "extra", "table3"), [
    ("cc-reduced", 195_072, "1.5M"),  # "CC-block (bilinear)"
    ("cc-static", 3_840, "1.3M"),     # "Input-independent CC-block", any EMP
])
def test_table3_parameter_totals_are_reproduced(name: str, extra: int, table3: str) -> None:
    plain, points = _cifar100_table1(32)
    assert plain == 1_316_356
    added = sum(create_block(name, c, feat_size=(s, s)).formula_params() for c, s in points)
    assert added == extra
    assert f"{round((plain + added) / 1e6, 1)}M" == table3
