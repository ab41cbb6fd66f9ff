"""The regional MS-SAR inference form computes the block's function (export/rewrites/ms_sar.py)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from export.optimize import optimize_model
from export.rewrites.ms_sar import (RegionalMSSARInference, padded_excitation, region_pool, spread,
                                    window_stride)
from recalib.blocks import create_block
from recalib.blocks.region_pooling import contract, region_matrices
from recalib.folding import fold

from export_helpers import randomize


def _random(block: nn.Module) -> nn.Module:
    """Non-trivial BN statistics, so the excitation is not the identity at initialisation."""
    return randomize(block).double()


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 9, 10, 13, 14, 16, 28])
def test_region_pool_is_the_partition_average_at_every_size(n):
    x = torch.randn(2, 3, n, n + 1, dtype=torch.float64)
    for k in (1, 2, 4):
        if k > n:
            continue
        rows, _ = region_matrices(n, k, torch.float64)
        cols, _ = region_matrices(n + 1, k, torch.float64)
        expected = contract(x, rows, cols).transpose(-1, -2)
        torch.testing.assert_close(region_pool(x, k), expected, rtol=1e-12, atol=1e-12)


def test_window_stride_marks_windows_with_a_short_last_one_only():
    assert [window_stride(7, 4), window_stride(7, 2), window_stride(56, 4)] == [2, 4, 14]
    assert window_stride(14, 4) is None  # regions 4, 3, 4, 3
    assert window_stride(10, 4) is None  # regions 3, 2, 3, 2


@pytest.mark.parametrize("n", range(4, 60))
def test_spread_puts_each_regions_gate_on_exactly_its_positions(n):
    gate = torch.rand(2, 3, 4, 4, dtype=torch.float64)
    _, rows = region_matrices(n, 4, torch.float64)
    _, cols = region_matrices(n + 3, 4, torch.float64)
    assert torch.equal(spread(gate, (n, n + 3)), rows.t() @ gate @ cols)


def test_padded_excitation_keeps_the_function_and_pads_to_sixteen():
    block = fold(_random(create_block("ms-sar", 48)).float(), (48, 8, 8))
    excite = block.branches["K2"].excite  # hidden 48 // 9 = 5
    padded = padded_excitation(excite)
    assert padded[0].out_channels == 16 and padded[2].in_channels == 16
    x = torch.randn(2, 48, 2, 2)
    torch.testing.assert_close(padded(x), excite(x), rtol=0, atol=0)


def test_unfolded_excitation_is_left_alone():
    block = create_block("ms-sar", 48)
    assert padded_excitation(block.branches["K1"].excite) is block.branches["K1"].excite


@pytest.mark.parametrize("size", [(7, 7), (14, 14), (16, 16), (13, 11), (4, 6)])
@pytest.mark.parametrize("scales", [(1, 2, 4), (2, 4), (1,), (1, 2)])
def test_inference_form_equals_the_block(size, scales):
    block = _random(create_block("ms-sar", 36, scales=scales))
    x = torch.randn(2, 36, *size, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(RegionalMSSARInference(block)(x), block(x), rtol=1e-12, atol=1e-12)


def test_inference_form_of_a_folded_block_with_padding_equals_the_block():
    block = _random(create_block("ms-sar", 64))
    folded = fold(block, (64, 14, 14))
    x = torch.randn(3, 64, 14, 14, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(RegionalMSSARInference(folded)(x), block(x), rtol=1e-10, atol=1e-10)


def test_inference_form_takes_a_multi_stage_source():
    block = _random(create_block("ms-sar", 32, source_channels=24))
    x, source = torch.randn(2, 32, 9, 9, dtype=torch.float64), torch.randn(2, 24, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(RegionalMSSARInference(block)(x, source), block(x, source))


def test_optimize_model_swaps_regional_blocks_only():
    model = nn.Sequential(create_block("ms-sar", 32), create_block("ms-sar", 32, strategy="sliding"))
    result = optimize_model(model)
    assert isinstance(result.model[0], RegionalMSSARInference)
    assert not isinstance(result.model[1], RegionalMSSARInference)
    assert len(result.actions) == 1 and result.actions[0].startswith("0: ms-sar-low-res")
    root = optimize_model(create_block("ms-sar", 32))
    assert isinstance(root.model, RegionalMSSARInference) and root.actions[0].startswith("<model>")
