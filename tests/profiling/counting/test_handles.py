"""Handles give exact counts on small cases computed by hand."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from recalib.profiling.counting.counts import count_module
from recalib.profiling.counting.handles import FREE_OPS, HANDLES, _adaptive_axis, _window_total
from recalib import create_block


def test_se_one_layer_on_a_4x4_map_counts_every_op() -> None:
    # C = 16, r = 4: mean reads 16·16, two 1×1 convs 16·4 each, ReLU 4 + sigmoid 16, scale 16·16.
    counts = count_module(create_block("se", 16, reduction=4), (1, 16, 4, 4))
    assert counts.categories("flops") == {"pool": 256, "conv": 128, "act": 20, "eltwise": 256}
    assert counts.categories("params") == {"weight": 128, "bias": 20}
    assert not counts.unsupported


def test_ge_theta_minus_extent_2_counts_the_clipped_windows() -> None:
    # avg_pool2d(3, stride 2, pad 1) on 4 → 2: windows cover 2 + 3 cells per axis, 25 per channel;
    # sigmoid on 2×2, nearest resize back to 4×4 (a copy), scale on 4×4.
    counts = count_module(create_block("ge-theta-minus", 8, extent=2), (1, 8, 4, 4))
    assert counts.categories("flops") == {"pool": 8 * 25, "act": 8 * 4, "move": 8 * 16, "eltwise": 8 * 16}
    assert counts.total("params") == 0


def test_ms_sar_k2_on_a_5x5_map_counts_pool_and_spread_products_as_fixed() -> None:
    # C = 18, r = 3, L = 1 → hidden 6. Regions of 5 split in 2: pool x@(5×2) then @(5×2):
    # 18·(5·2·5 + 2·2·5) = 1260, spread back the same way: 1260. Excitation at 2×2 positions:
    # convs 4·18·6·2 = 864, BN on 4·6 + 4·18 = 96, ReLU 24 + sigmoid 72, scale 18·25 = 450.
    block = create_block("ms-sar", 18, scales=(2,), feat_size=(5, 5))
    counts = count_module(block, (1, 18, 5, 5))
    assert counts.categories("flops") == {"fixed": 2520, "conv": 864, "bn": 96, "act": 96, "eltwise": 450}
    assert not counts.unsupported


def test_fixed_matrices_built_in_forward_are_still_fixed() -> None:
    block = create_block("ms-sar", 18, scales=(2,))  # no feat_size: matrices built from x.shape
    counts = count_module(block, (1, 18, 5, 5))
    assert counts.flops[""]["fixed"] == 2520 and "fc" not in counts.flops[""]


class _Products(nn.Module):
    """``x @ buffer`` is a fixed operator; ``x @ parameter`` and ``x @ x`` are not."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("fixed", torch.ones(4, 3))
        self.learned = nn.Parameter(torch.ones(4, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.fixed).sum() + (x @ self.learned).sum() + (x @ x.transpose(-1, -2)).sum()


def test_matrix_products_are_split_into_fixed_and_learned() -> None:
    counts = count_module(_Products(), (2, 6, 4))
    flops = counts.flops[""]
    assert flops["fixed"] == 2 * 6 * 3 * 4
    assert flops["fc"] == 2 * 6 * 5 * 4 + 2 * 6 * 6 * 4


@pytest.mark.parametrize("length,out,kernel,stride,padding,expected", [
    (4, 2, 3, 2, 1, 5),      # GE e=2: windows [-1, 1] and [1, 3] clipped to the map
    (8, 4, 2, 2, 0, 8),      # non-overlapping: every cell once
    (7, 3, 3, 2, 0, 9),      # overlapping windows read shared cells twice
])
def test_pool_windows_count_cells_inside_the_map(length: int, out: int, kernel: int, stride: int,
                                                 padding: int, expected: int) -> None:
    assert _window_total(length, out, kernel, stride, padding) == expected


def test_adaptive_windows_overlap_when_the_output_does_not_divide() -> None:
    assert _adaptive_axis(8, 3) == 3 + 4 + 3
    assert _adaptive_axis(8, 4) == 8


def test_adaptive_and_max_pool_handles_match_hand_counts() -> None:
    model = nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1), nn.AdaptiveAvgPool2d(3))
    counts = count_module(model, (1, 2, 8, 8))
    # max pool 8 → 4: per axis 2 + 3 + 3 + 3 = 11 cells; adaptive 4 → 3: 2 + 2 + 2 per axis.
    assert counts.categories("flops") == {"pool": 2 * 11 * 11 + 2 * 6 * 6}


def test_free_ops_and_handles_are_disjoint_aten_names() -> None:
    assert all(name.startswith("aten::") for name in (*FREE_OPS, *HANDLES))
    assert not set(FREE_OPS) & set(HANDLES)
