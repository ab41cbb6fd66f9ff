"""Float64 grouped convolutions by batched products: the same numbers as PyTorch's own kernel."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from recalib.export.float64 import fast_float64, grouped_conv2d


@pytest.mark.parametrize("groups, stride, padding, dilation, bias", [
    (4, 1, 1, 1, True), (16, 2, 1, 1, False), (16, 1, 2, 2, True), (2, (2, 1), (0, 1), 1, True), (16, 3, 0, 1, False),
])
def test_grouped_convolution_matches_pytorch_in_float64(groups, stride, padding, dilation, bias) -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(16, 32, 3, stride=stride, padding=padding, dilation=dilation, groups=groups, bias=bias).double()
    x = torch.randn(2, 16, 11, 9, dtype=torch.float64)
    got = grouped_conv2d(x, conv.weight, conv.bias, stride, padding, dilation, groups)
    assert got is not None
    torch.testing.assert_close(got, F.conv2d(x, conv.weight, conv.bias, stride, padding, dilation, groups),
                               rtol=1e-12, atol=1e-12)


def test_only_float64_grouped_convolutions_take_the_fast_path() -> None:
    x, w = torch.randn(1, 4, 5, 5), torch.randn(4, 1, 3, 3)
    assert grouped_conv2d(x, w, groups=4) is None  # float32: PyTorch's own kernel is fast
    assert grouped_conv2d(x.double(), w[:, :, :, :].repeat(1, 4, 1, 1).double()) is None  # groups 1
    assert grouped_conv2d(x.double(), w.double(), padding="same", groups=4) is None


def test_a_model_runs_the_same_inside_the_context() -> None:
    model = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU(), nn.Conv2d(8, 4, 1)).double().eval()
    x = torch.randn(2, 8, 7, 7, dtype=torch.float64)
    with torch.no_grad():
        expected = model(x)
        with fast_float64():
            got = model(x)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
