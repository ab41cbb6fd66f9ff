"""The regional MS-SAR inference form computes the block's function (export/rewrites/ms_sar.py)."""
from __future__ import annotations


import onnx
import pytest
import torch
from torch import nn

from recalib import export
from recalib.export.optimize import optimize_model
from recalib.export.options import ExportOptions
from recalib.export.rewrites.ms_sar import (RegionalMSSARInference, SpreadPlan, padded_excitation, phase_count,
                                    phase_pool, region_pool, scaled, spread, spread_plan, window_stride)
from recalib.blocks import create_block
from recalib.blocks.region_pooling import contract, region_matrices
from recalib.folding import fold

from export_helpers import Host, ops, ort_ops, randomize


def _random(block: nn.Module) -> nn.Module:
    """Non-trivial BN statistics, so the excitation is not the identity at initialisation."""
    return randomize(block).double()


def _partition_average(x: torch.Tensor, k: int) -> torch.Tensor:
    """The block's own pooling: region averages by its constant matrices, ``(N, C, k, k)``."""
    rows, _ = region_matrices(x.shape[-2], k, x.dtype)
    cols, _ = region_matrices(x.shape[-1], k, x.dtype)
    return contract(x, rows, cols).transpose(-1, -2)


@pytest.mark.parametrize("n", range(1, 41))
def test_region_pool_is_the_partition_average_at_every_size(n):
    x = torch.randn(2, 3, n, n + 1, dtype=torch.float64)
    for k in (1, 2, 4):
        if k <= n:
            torch.testing.assert_close(region_pool(x, k), _partition_average(x, k), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [2, 4, 5, 6, 7, 10, 13, 14, 18, 28, 30])
def test_phase_pool_is_the_partition_average_for_any_phase_count(n):
    x = torch.randn(2, 5, n, n + 2, dtype=torch.float64)
    for k in (2, 4):
        if k <= n:
            torch.testing.assert_close(phase_pool(x, k), _partition_average(x, k), rtol=1e-12, atol=1e-12)


def test_phase_count_is_the_period_of_the_region_pattern():
    assert [phase_count(14, 4), phase_count(10, 4), phase_count(13, 4), phase_count(28, 4), phase_count(7, 2)] \
        == [2, 2, 4, 1, 2]


def test_window_stride_marks_windows_with_a_short_last_one_only():
    assert [window_stride(7, 4), window_stride(7, 2), window_stride(56, 4)] == [2, 4, 14]
    assert window_stride(14, 4) is None  # regions 4, 3, 4, 3
    assert window_stride(10, 4) is None  # regions 3, 2, 3, 2


@pytest.mark.parametrize("n", range(1, 60))
def test_spread_puts_each_regions_gate_on_exactly_its_positions(n):
    for k in (1, 2, 4):
        if k > n:
            continue
        gate = torch.rand(2, 3, k, k, dtype=torch.float64)
        for m in (n, n + 3, 14):
            _, rows = region_matrices(n, k, torch.float64)
            _, cols = region_matrices(m, k, torch.float64)
            assert torch.equal(spread(gate, (n, m)), rows.t() @ gate @ cols), (n, m, k)


def test_spread_plans_resize_then_stride_or_crop():
    assert spread_plan(14, 4) == SpreadPlan(scale=7, stride=2, crop=0)  # regions 4, 3, 4, 3
    assert spread_plan(7, 4) == SpreadPlan(scale=2, stride=1, crop=1)  # 2, 2, 2, 1
    assert spread_plan(56, 4) == SpreadPlan(scale=14, stride=1, crop=0)
    assert spread_plan(10, 4) == SpreadPlan(scale=5, stride=2, crop=0)  # 3, 2, 3, 2


def test_every_ms_sar_size_up_to_80_has_a_spread_plan_but_where_pytorch_resizes_oddly():
    missing = [n for n in range(4, 81) if spread_plan(n, 4) is None]
    assert missing == [41, 61]  # PyTorch's float32 indices for 4 -> 4·n are not floor(i / n) there


def test_scaled_is_a_product_by_the_factor():
    x = torch.randn(2, 6, 5, 3, dtype=torch.float64)
    assert torch.equal(scaled(x, 1 / 3), x * (1 / 3))


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


@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("size", [(7, 7), (14, 14), (16, 16), (13, 11), (4, 6)])
@pytest.mark.parametrize("scales", [(1, 2, 4), (2, 4), (1,), (1, 2)])
def test_inference_form_equals_the_block(size, scales, target):
    block = _random(create_block("ms-sar", 36, scales=scales))
    x = torch.randn(2, 36, *size, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(RegionalMSSARInference(block, target)(x), block(x), rtol=1e-12, atol=1e-12)


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


@pytest.mark.parametrize("size", [14, 7, 16])
def test_export_pools_and_spreads_without_matmuls_and_fuses_the_residual_add(size, tmp_path):
    path = tmp_path / "ms_sar.onnx"
    host = randomize(Host("ms-sar", channels=32, size=(size, size)))
    export.to_onnx(host, (3, size, size), path, ExportOptions(write_report=False))  # checks ORT vs PyTorch parity
    graph = ops(path)
    assert "MatMul" not in graph and "Div" not in graph
    optimized = ort_ops(path)
    if not optimized["nchwc:Conv"]:
        pytest.skip("onnxruntime's NCHWc layout is not used on this CPU")
    assert optimized["Add"] == 2  # the gate sums: the 1/L conv after the product absorbed the host's Add
    # layout copies: the host's output, and one round trip for phase pooling's interleave (14: 4, 3, 4, 3)
    assert optimized["nchwc:ReorderInput"] + optimized["nchwc:ReorderOutput"] == (3 if size == 14 else 1)
