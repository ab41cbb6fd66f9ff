"""Gather-Excite θ⁻/θ/θ⁺: the paper's gather window, official layouts, parameter totals, errors, export."""
from __future__ import annotations

import math
from typing import TypeVar

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from fvcore.nn import FlopCountAnalysis
from onnx import numpy_helper
from torch import nn

from recalib import create_block
from recalib.blocks.gather_excite import GatherExcite
from recalib.blocks.se import ExciteMLP
from recalib.errors import ConfigError, ShapeError

VARIANTS = ["ge-theta-minus", "ge-theta", "ge-theta-plus"]
RESNET50 = 25_557_032
RESNET50_BN_STATS = 53_120  # running mean + var of ResNet-50's 26,560 BN channels
STAGES = {2: (256, 56, 3), 3: (512, 28, 4), 4: (1024, 14, 6), 5: (2048, 7, 3)}  # width, size, blocks
M = TypeVar("M", bound=nn.Module)


def ge(name: str, channels: int, size: tuple[int, int], **options: object) -> GatherExcite:
    """Build with the feature size when the variant takes one (GE-θ⁻ does not)."""
    if name != "ge-theta-minus":
        options.setdefault("feat_size", size)
    block = create_block(name, channels, **options)
    assert isinstance(block, GatherExcite)
    return block


def layer(block: nn.Module, name: str, kind: type[M]) -> M:
    module = block.get_submodule(name)
    assert isinstance(module, kind), f"{name} is {type(module).__name__}, expected {kind.__name__}"
    return module


def paper_gather(x: torch.Tensor, e: int) -> torch.Tensor:
    """Average of ι(u, e) = {e·u + δ : |δ| ≤ e − 1} clipped to the map, written out position by position."""
    h, w = x.shape[-2:]
    out = torch.empty(*x.shape[:2], math.ceil(h / e), math.ceil(w / e))
    for u in range(out.shape[-2]):
        for v in range(out.shape[-1]):
            rows = slice(max(e * u - e + 1, 0), min(e * u + e, h))
            cols = slice(max(e * v - e + 1, 0), min(e * v + e, w))
            out[..., u, v] = x[..., rows, cols].mean((-2, -1))
    return out


def nearest_back(g: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Position (i, j) takes aggregate (⌊i·H'/H⌋, ⌊j·W'/W⌋)."""
    rows = [i * g.shape[-2] // size[0] for i in range(size[0])]
    cols = [j * g.shape[-1] // size[1] for j in range(size[1])]
    return g[..., rows, :][..., cols]


def randomise_bn(block: nn.Module) -> None:
    for bn in (m for m in block.modules() if isinstance(m, nn.BatchNorm2d)):
        assert bn.running_mean is not None and bn.running_var is not None
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
        nn.init.normal_(bn.weight)
        nn.init.normal_(bn.bias)


def test_theta_minus_global_is_x_times_sigmoid_of_the_mean() -> None:
    x = torch.randn(2, 8, 7, 5)
    block = create_block("ge-theta-minus", 8)
    torch.testing.assert_close(block(x), x * torch.sigmoid(x.mean((2, 3), keepdim=True)))


@pytest.mark.parametrize("size,extent", [((7, 7), 2), ((13, 9), 4), ((8, 8), 2), ((5, 3), 8), ((9, 13), 2)])
def test_theta_minus_averages_the_papers_window_and_resizes_back(size: tuple[int, int], extent: int) -> None:
    x = torch.randn(2, 3, *size)
    block = create_block("ge-theta-minus", 3, extent=extent)
    expected = x * torch.sigmoid(nearest_back(paper_gather(x, extent), size))
    torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize("extent", [2, 4, 8, "global"])
def test_theta_minus_has_no_parameters(extent: object) -> None:
    block = create_block("ge-theta-minus", 64, extent=extent)
    assert list(block.parameters()) == [] and block.formula_params() == 0


@pytest.mark.parametrize("size", [(7, 7), (13, 9), (5, 3)], ids=str)
@pytest.mark.parametrize("extent", [2, 4, 8, "global"])
@pytest.mark.parametrize("name", VARIANTS)
def test_odd_and_non_divisible_sizes_gather_to_ceil_and_keep_shape(name: str, extent: int | str,
                                                                   size: tuple[int, int]) -> None:
    block = ge(name, 32, size, extent=extent).train()
    x = torch.randn(2, 32, *size)
    gathered = block.gather(x).shape[-2:]
    e = max(size) if isinstance(extent, str) else extent
    assert tuple(gathered) == (math.ceil(size[0] / e), math.ceil(size[1] / e))
    assert block(x).shape == x.shape


def test_theta_global_is_a_map_sized_depthwise_conv_then_bn() -> None:
    block = ge("ge-theta", 6, (7, 5)).eval()
    randomise_bn(block)
    x = torch.randn(2, 6, 7, 5)
    conv, bn = layer(block, "gather.conv1", nn.Conv2d), layer(block, "gather.bn1", nn.BatchNorm2d)
    assert conv.bias is None and conv.groups == 6 and conv.kernel_size == (7, 5)
    pooled = (x * conv.weight[:, 0]).sum((2, 3), keepdim=True)
    gathered = F.batch_norm(pooled, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps)
    torch.testing.assert_close(block(x), x * torch.sigmoid(gathered))


def test_theta_extent_chains_log2_e_strided_depthwise_convs_with_relu_only_between() -> None:
    block = ge("ge-theta", 16, (28, 28), extent=8)
    assert list(block.gather._modules) == ["conv1", "bn1", "act1", "conv2", "bn2", "act2", "conv3", "bn3"]
    for conv in (layer(block, f"gather.conv{i}", nn.Conv2d) for i in (1, 2, 3)):
        assert (conv.kernel_size, conv.stride, conv.padding, conv.groups, conv.bias) == ((3, 3), (2, 2), (1, 1), 16, None)
    assert isinstance(block.act, nn.Identity) and isinstance(block.mlp, nn.Identity)
    assert block.formula_params() == 3 * (9 * 16 + 2 * 16)


def test_theta_plus_applies_the_official_relu_between_gather_and_se_mlp() -> None:
    block = ge("ge-theta-plus", 32, (7, 7), reduction=4).eval()
    randomise_bn(block)
    assert isinstance(block.mlp, ExciteMLP)  # SE's MLP, reused rather than copied
    x = torch.randn(2, 32, 7, 7)
    gathered = block.gather(x)
    assert (gathered < 0).any(), "the ReLU would be invisible on a non-negative gather"
    torch.testing.assert_close(block(x), x * torch.sigmoid(block.mlp(F.relu(gathered))))
    assert not torch.allclose(block(x), x * torch.sigmoid(block.mlp(gathered)))


def test_theta_plus_with_extent_excites_every_gathered_location() -> None:
    block = ge("ge-theta-plus", 32, (13, 9), extent=4, reduction=4).eval()
    x = torch.randn(1, 32, 13, 9)
    gate = torch.sigmoid(block.mlp(F.relu(block.gather(x))))
    assert gate.shape[-2:] == (4, 3)
    torch.testing.assert_close(block(x), x * nearest_back(gate, (13, 9)))


def bn_stats(block: nn.Module) -> int:
    return sum(b.numel() for n, b in block.named_buffers() if n.endswith(("running_mean", "running_var")))


def resnet50_total(name: str, stages: list[int]) -> tuple[int, int]:
    """(learnable parameters, learnable + BN running statistics) of ResNet-50 with ``name`` in ``stages``."""
    learnable, stats = RESNET50, RESNET50_BN_STATS
    for stage in stages:
        width, size, count = STAGES[stage]
        block = ge(name, width, (size, size))
        learnable += count * sum(p.numel() for p in block.parameters())
        stats += count * bn_stats(block)
    return learnable, learnable + stats


@pytest.mark.parametrize("name,stages,paper_m", [
    ("ge-theta", [2], 28.0), ("ge-theta", [3], 27.2), ("ge-theta", [4], 26.8),  # Tab. 1
    ("ge-theta", [2, 3, 4, 5], 31.2), ("ge-theta-plus", [2, 3, 4, 5], 33.7),  # Tab. 1-2
    ("ge-theta-minus", [2, 3, 4, 5], 25.6),  # Tab. 2
])
def test_resnet50_totals_reproduce_the_papers_tables_counting_bn_statistics(
        name: str, stages: list[int], paper_m: float) -> None:
    assert round(resnet50_total(name, stages)[1] / 1e6, 1) == paper_m


def test_resnet50_learnable_totals_and_why_the_paper_reads_higher() -> None:
    theta, theta_with_stats = resnet50_total("ge-theta", [2, 3, 4, 5])
    plus, _ = resnet50_total("ge-theta-plus", [2, 3, 4, 5])
    assert (theta, plus) == (31_106_600, 33_637_592)
    assert theta_with_stats == 31_189_928  # 31.2 M as printed; learnable only would print 31.1 M


@pytest.mark.parametrize("name,options,message", [
    ("ge-theta-minus", {"extent": 6}, "power of two"),
    ("ge-theta-minus", {"extent": 1}, "power of two"),
    ("ge-theta-minus", {"extent": "local"}, "extent must be an integer or one of 'global'"),
    ("ge-theta-minus", {"extent": True}, "extent must be an integer or one of 'global', got the bool"),
    ("ge-theta", {"extent": 3, "feat_size": 7}, "power of two"),
    ("ge-theta", {}, "extent='global' needs feat_size"),
    ("ge-theta-plus", {}, "extent='global' needs feat_size"),
    ("ge-theta", {"extent": 8, "feat_size": 4}, "extent=8 is too large for a 4x4 feature map"),
    ("ge-theta", {"feat_size": (7, 0)}, "feat_size must be"),
    ("ge-theta-plus", {"feat_size": 7, "reduction": 128}, r"channels \(64\) smaller than the reduction ratio"),
    ("ge-theta-minus", {"reduction": 16}, "does not take option.*reduction"),
    ("ge-theta-minus", {"feat_size": 7}, "does not take option.*feat_size"),
    ("ge-theta", {"feat_size": 7, "reduction": 16}, "does not take option.*reduction"),
    ("ge-theta", {"variant": "theta-plus", "feat_size": 7}, "fixes variant"),
])
def test_invalid_configuration_is_a_config_error_naming_the_problem(name: str, options: dict[str, object],
                                                                    message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        create_block(name, 64, **options)


@pytest.mark.parametrize("options,message", [
    ({"variant": "theta", "extent": 2, "reduction": 8}, "reduction applies only to ge-theta-plus"),
    ({"feat_size": 7}, "ge-theta-minus has no parameters.*drop feat_size"),
    ({"variant": "theta-max"}, "variant must be one of theta-minus, theta, theta-plus"),
])
def test_the_class_itself_rejects_options_that_do_not_apply(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        GatherExcite(64, **options)  # type: ignore[arg-type]


def test_extent_8_on_a_7x7_map_is_allowed_as_in_the_papers_resnet50_e8() -> None:
    block = ge("ge-theta", 64, (7, 7), extent=8)
    assert block.gather(torch.randn(2, 64, 7, 7)).shape[-2:] == (1, 1)


@pytest.mark.parametrize("name", VARIANTS)
def test_a_one_by_one_gate_broadcasts_instead_of_being_resized(name: str) -> None:
    block = ge(name, 16, (7, 5), extent=8).eval()
    x = torch.randn(2, 16, 7, 5)
    gate = torch.sigmoid(block.mlp(block.act(block.gather(x))))
    assert gate.shape == (2, 16, 1, 1)
    torch.testing.assert_close(block(x), x * F.interpolate(gate, size=(7, 5), mode="nearest"),
                               rtol=0, atol=0)
    program = torch.onnx.export(block, (x,), dynamo=True)
    assert program is not None and "Resize" not in {n.op_type for n in program.model_proto.graph.node}


@pytest.mark.parametrize("name", ["ge-theta", "ge-theta-plus"])
def test_global_extent_at_another_size_is_a_shape_error(name: str) -> None:
    block = ge(name, 64, (7, 7))
    with pytest.raises(ShapeError, match="built for a 7x7 feature map but got 8x8"):
        block(torch.randn(2, 64, 8, 8))


def test_finite_extent_runs_at_any_size_even_when_told_one() -> None:
    block = ge("ge-theta", 16, (8, 8), extent=2)
    assert block(torch.randn(2, 16, 13, 9)).shape == (2, 16, 13, 9)


@pytest.mark.parametrize("extent", [2, "global"])
@pytest.mark.parametrize("name", VARIANTS)
def test_compiles_without_graph_breaks_and_traces_for_fvcore(name: str, extent: object) -> None:
    block = ge(name, 32, (7, 5), extent=extent).eval()
    x = torch.randn(2, 32, 7, 5)
    compiled = torch.compile(block, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x), block(x))
    assert FlopCountAnalysis(block, x).unsupported_ops_warnings(False).total() >= 0


def test_onnx_export_resizes_to_explicit_sizes_and_matches_onnxruntime() -> None:
    block = create_block("ge-theta-minus", 4, extent=2).eval()
    x = torch.randn(1, 4, 7, 7)
    program = torch.onnx.export(block, (x,), dynamo=True)
    assert program is not None
    model = program.model_proto
    assert {n.op_type for n in model.graph.node} == {"AveragePool", "Sigmoid", "Resize", "Mul"}
    resize = next(n for n in model.graph.node if n.op_type == "Resize")
    _, roi, scales, sizes = resize.input
    assert (roi, scales) == ("", ""), "the resize must not use scale factors"
    initializers = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    assert initializers[sizes].tolist() == [1, 4, 7, 7]
    onnx.checker.check_model(model)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(out, block(x).detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(("name", "options", "what"), [
    ("ge-theta", {}, "the 1x1 map of the global gather"),
    ("ge-theta-plus", {}, "the 1x1 map of the global gather"),
    ("ge-theta", {"extent": 8}, "the 1x1 map the extent-8 gather leaves"),
    ("ge-theta-plus", {"extent": 8}, "the 1x1 map the extent-8 gather leaves"),
])
def test_training_at_batch_one_names_the_block_and_the_fix(name: str, options: dict[str, object], what: str) -> None:
    block = create_block(name, 16, feat_size=(7, 7), **options).train()
    with pytest.raises(ShapeError, match=rf"^{name}: .*{what}.*batch of at least 2"):
        block(torch.randn(1, 16, 7, 7))
    assert block.eval()(torch.randn(1, 16, 7, 7)).shape == (1, 16, 7, 7)


def test_batch_one_trains_where_the_gathered_map_keeps_several_positions() -> None:
    block = create_block("ge-theta", 16, extent=2).train()  # 7x7 -> 4x4: 16 values per channel
    x = torch.randn(1, 16, 7, 7, requires_grad=True)
    block(x).sum().backward()
    assert x.grad is not None and block(torch.randn(2, 16, 7, 7)).shape == (2, 16, 7, 7)
