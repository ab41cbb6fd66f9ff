"""The CC-block inference form computes the block's function (export/rewrites/contextual.py)."""
from __future__ import annotations

from collections import Counter

import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from recalib import export
from recalib.export.decompose import torch_nearest_indices
from recalib.export.optimize import optimize_model
from recalib.export.options import ExportOptions
from recalib.export.rewrites.contextual import ContextualConvInference, applies, bilinear_bases, pick
from recalib.blocks import create_block

SIZES = [(56, 56), (28, 28), (14, 14), (7, 7), (13, 9), (5, 17), (1, 3), (30, 12)]


def _random(name: str, size: tuple[int, int], channels: int = 8, **options) -> nn.Module:
    """A float64 block with every parameter drawn from N(0, 1), so the squash is not near 0."""
    torch.manual_seed(0)
    block = create_block(name, channels, feat_size=size, **options).double().eval()
    with torch.no_grad():
        for parameter in block.parameters():
            parameter.normal_()
    return block


def _assert_same(form: nn.Module, block: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        torch.testing.assert_close(form(x), block(x), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n, m", [(56, 11), (28, 11), (14, 11), (7, 7), (30, 11), (3, 3), (40, 11)])
def test_pick_takes_the_pixels_a_nearest_resize_copies(n, m):
    x = torch.randn(2, 3, n, 5, dtype=torch.float64)
    expected = F.interpolate(x, size=(m, 5), mode="nearest")
    assert torch.equal(pick(x, 2, torch_nearest_indices(n, m)), expected)


def test_bilinear_bases_give_eq2s_profile_from_tanh():
    z = torch.randn(3, 4, dtype=torch.float64)
    basis_h, basis_w = bilinear_bases(6, 9, one=False, dtype=torch.float64)
    p = torch.tanh(z) / 2 + 1
    u = torch.arange(9, dtype=torch.float64) / 9
    expected_w = p[:, :1] * (1 - u) + p[:, 1:2] * u
    torch.testing.assert_close(torch.tanh(z) @ basis_w + 1, expected_w, rtol=1e-14, atol=1e-14)
    assert basis_h.shape == (4, 6) and torch.equal(basis_h[:2], torch.zeros(2, 6))
    unscaled = bilinear_bases(6, 9, one=False, dtype=torch.float64, scale=1.0)[1]  # the {-1...1} range: P = tanh(z)
    p = torch.tanh(z)
    torch.testing.assert_close(p @ unscaled, p[:, :1] * (1 - u) + p[:, 1:2] * u, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("emp", ["bilinear", "gaussian", "sine"])
def test_reduced_form_equals_the_block(size, emp, target):
    block = _random("cc-reduced", size, emp=emp)
    x = torch.randn(3, 8, *size, dtype=torch.float64)
    _assert_same(ContextualConvInference(block, target), block, x)


@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("size", [(28, 28), (7, 7), (13, 9)])
@pytest.mark.parametrize("emp", ["gaussian", "sine"])
def test_reduced_form_follows_the_unit_reading_of_x(size, emp, target):
    block = _random("cc-reduced", size, emp=emp, emp_coordinates="unit")
    _assert_same(ContextualConvInference(block, target), block, torch.randn(2, 8, *size, dtype=torch.float64))


@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("size", [(28, 28), (7, 7), (13, 9)])
@pytest.mark.parametrize(("name", "emp"), [("cc-reduced", "bilinear"), ("cc-reduced", "sine"),
                                           ("cc-no-mix", "bilinear"), ("cc-scalar", None), ("cc-full-scalar", None)])
def test_forms_in_the_other_coefficient_range_equal_the_block(name, emp, size, target):
    block = _random(name, size, coefficient_range="-1..1", **({"emp": emp} if emp else {}))
    form = ContextualConvInference(block, target)
    assert not form.one  # the saturated "+ 1" coefficient only serves the 0.5..1.5 range
    _assert_same(form, block, torch.randn(2, 8, *size, dtype=torch.float64))


@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
@pytest.mark.parametrize("name", ["cc-no-mix", "cc-full", "cc-scalar", "cc-full-scalar"])
@pytest.mark.parametrize("size", [(28, 28), (7, 7), (13, 9)])
def test_other_per_channel_variants_equal_the_block(name, size, target):
    block = _random(name, size)
    x = torch.randn(2, 8, *size, dtype=torch.float64)
    _assert_same(ContextualConvInference(block, target), block, x)


@pytest.mark.parametrize("target, sized", [("onnxruntime", (None, 28)), ("openvino", (28, 28))])
def test_a_size_other_than_feat_size_with_the_same_grid_still_matches(target, sized):
    block = _random("cc-reduced", (28, 28))  # columns (OpenVINO: rows too) picked by zero weights at 28
    form = ContextualConvInference(block, target)
    assert (form.sized_height, form.sized_width) == sized
    for size in ((28, 28), (28, 30), (14, 28), (12, 17)):
        _assert_same(form, block, torch.randn(2, 8, *size, dtype=torch.float64))


def test_openvino_form_picks_no_pixel_by_indexing_where_the_picks_are_uneven(tmp_path):
    block = _random("cc-reduced", (14, 14)).float()  # 14 -> 11 picks: uneven on both axes
    path = tmp_path / "cc.onnx"
    export.to_onnx(block, (8, 14, 14), path, ExportOptions(optimize="openvino", fold=False))
    ops = Counter(n.op_type for n in onnx.load(str(path)).graph.node)
    assert not {"Gather", "Slice", "MatMul"} & set(ops) and ops["Conv"] == 4


def test_the_saturated_output_is_exactly_one_in_float32():
    assert torch.tanh(torch.tensor(30.0)).item() == 1.0
    assert torch.tanh(torch.tensor(30.0, dtype=torch.float64)).item() == 1.0


def test_optimize_model_swaps_per_channel_cc_blocks_only():
    model = nn.Sequential(create_block("cc-reduced", 16, feat_size=14),
                          create_block("cc-no-ch", 16, feat_size=14),
                          create_block("cc-static", 16, feat_size=14))
    keys = set(model[0].state_dict())
    result = optimize_model(model)
    assert isinstance(result.model[0], ContextualConvInference)
    assert not applies(result.model[1]) and not isinstance(result.model[1], ContextualConvInference)
    assert len(result.actions) == 1 and result.actions[0].startswith("0: cc-grid-picks")
    assert set(result.model[0].state_dict()) == {f"block.{key}" for key in keys}


def _ops(path) -> Counter:
    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def test_export_with_the_rewrite_passes_parity_with_static_shapes_and_no_grouped_grid_conv(host, tmp_path):
    model = host("cc-reduced", size=(28, 28))
    optimized, plain = tmp_path / "opt.onnx", tmp_path / "plain.onnx"
    report = export.to_onnx(model, (3, 28, 28), optimized)  # raises if ORT differs from PyTorch
    export.to_onnx(model, (3, 28, 28), plain, ExportOptions(optimize=False))
    assert any("cc-grid-picks" in line for line in report.rewrites)
    fast, slow = _ops(optimized), _ops(plain)
    assert fast["Shape"] == 0 and fast["Resize"] == 0 and slow["Resize"] == 1
    assert sum(fast.values()) < sum(slow.values())
    graph = onnx.load(str(optimized)).graph
    weights = {t.name: t.dims[0] for t in graph.initializer}
    groups = [(next((a.i for a in n.attribute if a.name == "group"), 1), weights.get(n.input[1]))
              for n in graph.node if n.op_type == "Conv"]
    grouped = [(g, out) for g, out in groups if g > 1]
    # the grid layer runs as depthwise convs (one output per group), never as the C -> 4C grouped conv
    assert len(grouped) == 5 and all(out == g == 32 for g, out in grouped)


def test_the_map_is_a_k1_matmul_from_width_14_and_a_broadcast_mul_below(host, tmp_path):
    """Both are the block's single products; which is faster on onnxruntime depends on the width."""
    counts = {}
    for size in ((7, 7), (14, 14)):
        path = tmp_path / f"cc{size[0]}.onnx"
        export.to_onnx(host("cc-reduced", size=size), (3, *size), path)  # parity-checked against PyTorch
        counts[size] = _ops(path)
    assert counts[(14, 14)]["MatMul"] == counts[(7, 7)]["MatMul"] + 1  # + the map; the two profile GEMMs in both
    assert counts[(7, 7)]["Mul"] == counts[(14, 14)]["Mul"] + 1
