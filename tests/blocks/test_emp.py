"""The EMPs' coordinates (the reading of Table 2's x), their maps, and the gate at initialisation."""
from __future__ import annotations

import math

import pytest
import torch

from recalib import create_block
from recalib.blocks.emp import coordinates, excitation_map
from recalib.errors import ConfigError

PI = math.pi


def one_channel(*values: float) -> torch.Tensor:
    return torch.tensor([values], dtype=torch.float64)  # (1, 4): one channel


@pytest.mark.parametrize(("emp", "reading", "expected"), [
    ("bilinear", "centred", [0, 0.25, 0.5, 0.75]),  # eq. 2's x/W in both readings
    ("bilinear", "unit", [0, 0.25, 0.5, 0.75]),
    ("gaussian", "unit", [0, 0.25, 0.5, 0.75]),
    ("gaussian", "centred", [0.625, 0.875, 1.125, 1.375]),  # pixel centres spanning (0.5, 1.5)
    ("sine", "centred", [-3 * PI / 4, -PI / 4, PI / 4, 3 * PI / 4]),  # pixel centres over one period
])
def test_coordinates_of_a_four_pixel_axis(emp: str, reading: str, expected: list[float]) -> None:
    got = coordinates(4, torch.float64, emp=emp, reading=reading)
    torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float64))


def test_centred_gaussian_map_by_hand() -> None:
    # width (W=2, x = 0.75, 1.25): mu=1, sigma=0.5 -> exp(-0.125) + 0.5 at both;
    # height (H=1, x = 1.0): mu=1.5, sigma=1 -> exp(-0.125) + 0.5
    factor = math.exp(-0.125) + 0.5
    got = excitation_map("gaussian", one_channel(1.0, 0.5, 1.5, 1.0), (1, 2))[0]
    torch.testing.assert_close(got, torch.full((1, 2), factor * factor, dtype=torch.float64))


def test_centred_sine_map_by_hand() -> None:
    # width (W=2, x = -pi/2, pi/2): v=1, phi=0 -> 0.5, 1.5; height (H=1, x = 0): phi=pi/2 -> 1.5
    got = excitation_map("sine", one_channel(1.0, 0.0, 1.2, PI / 2), (1, 2))[0]
    torch.testing.assert_close(got, torch.tensor([[0.75, 2.25]], dtype=torch.float64))


INITIAL = one_channel(1.0, 1.0, 1.0, 1.0)  # P = tanh(0)/2 + 1: where training starts


@pytest.mark.parametrize("size", [(2, 2), (7, 12), (32, 32), (5, 17)])
def test_sine_gate_starts_centred_on_the_pass_through(size: tuple[int, int]) -> None:
    gate = excitation_map("sine", INITIAL, size)[0]
    assert gate.mean().item() == pytest.approx(1.0, abs=1e-12)  # a full period of sin(x + 1) sums to 0
    assert gate.min() >= 0.25 and gate.max() <= 2.25
    assert gate.min() < 1 < gate.max()  # it attenuates as well as amplifies


def test_unit_reading_of_the_sine_can_never_attenuate() -> None:
    """The other reading: argument v·x/W + φ in (0.5, 3), so the gate lies in [1.15, 2.25]."""
    lows = []
    for v in torch.linspace(0.5, 1.5, 11):
        for phi in torch.linspace(0.5, 1.5, 11):
            p = one_channel(v.item(), phi.item(), v.item(), phi.item())
            lows.append(excitation_map("sine", p, (32, 32), "unit").min().item())
    assert min(lows) > 1.15 - 1e-3
    start = excitation_map("sine", INITIAL, (32, 32), "unit")
    assert start.min() > 1.99 and start.max() <= 2.25


def test_sine_gate_over_the_coefficient_range_attenuates_and_amplifies() -> None:
    grid = torch.linspace(0.5, 1.5, 11, dtype=torch.float64)
    v, phi = torch.meshgrid(grid, grid, indexing="ij")
    p = torch.stack((v, phi, v, phi), -1).reshape(-1, 4)
    gates = excitation_map("sine", p, (16, 16))
    assert gates.min() >= 0.25 and gates.max() <= 2.25
    assert gates.min() < 0.3 and gates.max() > 2.2  # the range is nearly all of [0.25, 2.25]
    assert (gates.amin((1, 2)) < 1).float().mean() > 0.9  # almost every setting attenuates somewhere


def test_gaussian_centre_reaches_every_pixel_only_in_the_centred_reading() -> None:
    width = 8
    mus = torch.linspace(0.5, 1.5, 101, dtype=torch.float64)
    def peaks(reading: str) -> set[int]:
        p = torch.stack((mus, torch.full_like(mus, 0.5), torch.ones_like(mus), torch.ones_like(mus)), -1)
        return set(excitation_map("gaussian", p, (1, width), reading)[:, 0].argmax(-1).tolist())
    assert peaks("centred") == set(range(width))
    assert peaks("unit") == {4, 5, 6, 7}  # mu > 0.5: only the right half


def test_gaussian_gate_at_initialisation() -> None:
    """μ = 1 is the map's centre; σ = 1 keeps every factor above exp(-1/8) + 0.5."""
    gate = excitation_map("gaussian", INITIAL, (8, 8))[0]
    torch.testing.assert_close(gate, gate.flip(0).flip(1))  # symmetric about the centre
    low = (math.exp(-0.125) + 0.5) ** 2
    assert low < gate.min() and gate.max() < 2.25
    assert gate.argmax().item() in {27, 28, 35, 36}  # the four central pixels


def test_gaussian_attenuates_far_from_a_narrow_centre() -> None:
    gate = excitation_map("gaussian", one_channel(0.51, 0.51, 0.51, 0.51), (16, 16))[0]
    assert gate[-1, -1] < 0.5 and gate[0, 0] > 2.0


@pytest.mark.parametrize(("emp", "low", "high"), [("bilinear", 1.0, 1.0), ("sine", 0.25, 2.25),
                                                  ("gaussian", 1.91, 2.25)])
def test_static_block_gate_at_initialisation(emp: str, low: float, high: float) -> None:
    gate = create_block("cc-static", 3, feat_size=(6, 10), emp=emp).constant_gate().detach()
    assert low - 1e-6 <= gate.min() and gate.max() <= high + 1e-6
    if emp != "gaussian":
        assert gate.mean().item() == pytest.approx(1.0, abs=1e-6)


def test_static_block_takes_the_unit_reading_as_an_option() -> None:
    unit = create_block("cc-static", 2, feat_size=(4, 4), emp="sine", emp_coordinates="unit")
    u = torch.arange(4) / 4
    factor = torch.sin(u + 1) / 2 + 1
    torch.testing.assert_close(unit.constant_gate().detach(), (factor[:, None] * factor).expand(2, 4, 4))


@pytest.mark.parametrize("name", ["cc-static", "cc-reduced"])
def test_unknown_reading_is_a_config_error_listing_the_choices(name: str) -> None:
    with pytest.raises(ConfigError, match=r"'pixels'.*centred, unit"):
        create_block(name, 2, feat_size=(4, 4), emp="sine", emp_coordinates="pixels")
