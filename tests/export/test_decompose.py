"""Exact decompositions: adaptive pooling as constant matrix products, nearest resize with sizes."""
from __future__ import annotations

import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from recalib import export
from recalib.export.decompose import onnx_nearest_indices, pooling_matrix, torch_nearest_indices
from recalib.export.options import ExportOptions
from export_helpers import ops

SIZES = (7, 13, 14, 30, 56)
BINS = (1, 2, 4)


@pytest.mark.parametrize("h", SIZES)
@pytest.mark.parametrize("k", BINS)
def test_pooling_matrices_match_adaptive_avg_pool(h, k):
    x = torch.randn(2, 3, h, h + 1)  # unequal sides catch a swapped H/W matrix
    pooled = pooling_matrix(h, k) @ x @ pooling_matrix(h + 1, k).T  # the exported graph's two products
    torch.testing.assert_close(pooled, F.adaptive_avg_pool2d(x, k), rtol=1e-5, atol=1e-6)


def test_pooling_matrix_rows_are_pytorch_bins():
    # 7 -> 4: bins [0,2) [1,4) [3,6) [5,7), overlapping because 4 does not divide 7
    expected = torch.tensor([[1 / 2, 1 / 2, 0, 0, 0, 0, 0], [0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0],
                             [0, 0, 0, 1 / 3, 1 / 3, 1 / 3, 0], [0, 0, 0, 0, 0, 1 / 2, 1 / 2]])
    torch.testing.assert_close(pooling_matrix(7, 4), expected)


class Pools(nn.Module):
    """Adaptive pools at every K, flattened side by side."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([F.adaptive_avg_pool2d(x, k).flatten(1) for k in BINS], dim=1)


@pytest.mark.parametrize("h", SIZES)
def test_exported_adaptive_pooling_is_exact_and_has_no_gather_sprawl(h, tmp_path):
    report = export.to_onnx(Pools(), (2, h, h), tmp_path / "pool.onnx")
    assert report.max_rel_error < 1e-5
    graph_ops = set(ops(tmp_path / "pool.onnx"))
    assert not graph_ops & {"Gather", "GatherND", "Where", "Transpose"}
    assert ("MatMul" in graph_ops) == (h % 4 != 0)  # matrices only where bins overlap (K=4 ∤ H)


@pytest.mark.parametrize("n_in,n_out,scale", [(5, 8, 1.7), (4, 9, None), (13, 11, None), (7, 14, 2.0),
                                              (5, 7, 1.5), (11, 32, None)])
def test_nearest_index_rule_is_pytorchs(n_in, n_out, scale):
    x = torch.arange(float(n_in)).view(1, 1, 1, n_in)
    options = {"scale_factor": (1.0, scale)} if scale else {"size": (1, n_out)}
    got = F.interpolate(x, mode="nearest", **options).flatten().long().tolist()
    assert got == torch_nearest_indices(n_in, n_out, scale)


def test_onnx_sizes_rule_differs_for_a_non_integer_scale_factor():
    assert torch_nearest_indices(5, 8, 1.7) != onnx_nearest_indices(5, 8)


class Upsample(nn.Module):
    def __init__(self, **options: object) -> None:
        super().__init__()
        self.options = options

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, mode="nearest", **self.options)


@pytest.mark.parametrize("options,expected", [
    ({"scale_factor": 2.0}, "Resize"), ({"size": (9, 11)}, "Resize"), ({"scale_factor": 1.7}, "Gather")])
def test_exported_nearest_resize_uses_explicit_sizes_or_exact_gathers(options, expected, tmp_path):
    path = tmp_path / "up.onnx"  # plain: the graph pass would give an integer upsample constant scales
    report = export.to_onnx(Upsample(**options), (2, 5, 5), path, ExportOptions(optimize=False))
    assert report.max_rel_error == 0.0  # nearest resizing copies values exactly
    resize = [n for n in onnx.load(str(path)).graph.node if n.op_type == "Resize"]
    assert expected in ops(path)
    assert all(len(n.input) == 4 and n.input[2] == "" for n in resize)  # sizes, never scales
