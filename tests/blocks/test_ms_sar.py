"""MS-SAR: coordinate sets computed by hand, SE as the L={1} case, multi-stage, validation, export."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from recalib import create_block, create_model
from recalib.blocks.ms_sar import MSSAR
from recalib.blocks.region_pooling import box_matrix, diamond_matrix, region_matrices
from recalib.errors import ConfigError, RecalibError, ShapeError
from recalib.infra.meta import meta_model

C = 16


def block(**options: object) -> MSSAR:
    built = create_block("ms-sar", C, **options)
    assert isinstance(built, MSSAR)
    return built


def randomise_bns(module: nn.Module) -> None:
    """Non-trivial eval-mode BNs, so a test cannot pass by BN being an identity."""
    for bn in module.modules():
        if isinstance(bn, nn.BatchNorm2d):
            assert bn.running_mean is not None and bn.running_var is not None
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.data.uniform_(0.5, 1.5)
            bn.bias.data.uniform_(-0.5, 0.5)


def excitation(m: MSSAR, k: int) -> nn.Sequential:
    excite = m.branches[f"K{k}"].excite
    assert isinstance(excite, nn.Sequential)
    return excite


def conv(module: nn.Module, path: str) -> nn.Conv2d:
    found = module.get_submodule(path)
    assert isinstance(found, nn.Conv2d)
    return found


# --- regional coordinate sets -----------------------------------------------------------------

def test_region_matrices_partition_5_into_2_by_hand() -> None:
    pool, spread = region_matrices(5, 2)
    # ⌊p·2/5⌋ = 0, 0, 0, 1, 1: regions {0, 1, 2} and {3, 4}
    expected_pool = torch.tensor([[1 / 3, 0], [1 / 3, 0], [1 / 3, 0], [0, 1 / 2], [0, 1 / 2]])
    torch.testing.assert_close(pool, expected_pool)
    torch.testing.assert_close(spread, (expected_pool > 0).float().t())


@torch.no_grad()
def test_regional_gate_is_eq1_on_each_region_of_a_non_divisible_map() -> None:
    m = block(scales=(2,)).eval()
    randomise_bns(m)
    x = torch.randn(2, C, 5, 5)
    regions = [slice(0, 3), slice(3, 5)]  # by hand for K=2 on 5
    pooled = torch.stack([torch.stack([x[:, :, r, c].mean((2, 3)) for c in regions], -1) for r in regions], -2)
    gate = excitation(m, 2)(pooled)  # (N, C, 2, 2)
    expected = torch.empty_like(x)
    for i, r in enumerate(regions):
        for j, c in enumerate(regions):
            expected[:, :, r, c] = x[:, :, r, c] * gate[:, :, i, j, None, None]
    torch.testing.assert_close(m(x), expected)


@torch.no_grad()
def test_divisible_regions_equal_adaptive_pooling_and_nearest_upsampling() -> None:
    m = block(scales=(4,)).eval()
    randomise_bns(m)
    x = torch.randn(2, C, 8, 12)
    gate = excitation(m, 4)(F.adaptive_avg_pool2d(x, 4))
    torch.testing.assert_close(m(x), x * F.interpolate(gate, size=(8, 12), mode="nearest"))


@torch.no_grad()
def test_non_divisible_spreading_is_nearest_upsampling() -> None:
    _, spread_h = region_matrices(13, 4)
    _, spread_w = region_matrices(9, 4)
    g = torch.randn(1, 2, 4, 4)
    torch.testing.assert_close(spread_h.t() @ g @ spread_w, F.interpolate(g, size=(13, 9), mode="nearest"))


# --- sliding coordinate sets -----------------------------------------------------------------

def test_box_matrix_clips_the_window_at_the_borders_by_hand() -> None:
    # 5x5 map, K=2: T = sqrt(25)/2 = 2.5, so |p - q| <= 2; column p averages its window.
    box = box_matrix(5, 5, 2)
    windows = [range(0, 3), range(0, 4), range(0, 5), range(1, 5), range(2, 5)]
    expected = torch.zeros(5, 5)
    for p, window in enumerate(windows):
        expected[list(window), p] = 1 / len(window)
    torch.testing.assert_close(box, expected)


def test_box_radius_boundary_is_inclusive_and_exact() -> None:
    # 4x4, K=2: T = 2 exactly, so offsets of 2 are in (k²d² = 16 <= 16) and 3 is out.
    assert (box_matrix(4, 4, 2)[:, 0] > 0).tolist() == [True, True, True, False]
    # 13x9, K=4: T = sqrt(117)/4 = 2.70 along both axes.
    assert math.isqrt(117 // 16) == 2
    assert int((box_matrix(13, 9, 4)[:, 6] > 0).sum()) == 5


@torch.no_grad()
def test_sliding_gate_is_eq1_on_each_clipped_square() -> None:
    m = block(scales=(2,), strategy="sliding").eval()
    randomise_bns(m)
    x = torch.randn(2, C, 5, 6)
    radius = math.isqrt(5 * 6 // 4)  # T = sqrt(30)/2 = 2.74
    pooled = torch.empty_like(x)
    for h in range(5):
        for w in range(6):
            window = x[:, :, max(h - radius, 0):h + radius + 1, max(w - radius, 0):w + radius + 1]
            pooled[:, :, h, w] = window.mean((2, 3))
    torch.testing.assert_close(m(x), x * excitation(m, 2)(pooled))


def test_diamond_matrix_averages_the_l1_ball_by_hand() -> None:
    # 3x3 map, K=2: T = sqrt(9)/2 = 1.5, so ‖p - q‖₁ <= 1: each position and its 4-neighbours.
    x = torch.arange(9.0).reshape(3, 3)
    pooled = (x.reshape(1, 9) @ diamond_matrix(3, 3, 2)).reshape(3, 3)
    expected = torch.tensor([[(0 + 1 + 3) / 3, (1 + 0 + 2 + 4) / 4, (2 + 1 + 5) / 3],
                             [(3 + 0 + 6 + 4) / 4, (4 + 1 + 3 + 5 + 7) / 5, (5 + 2 + 8 + 4) / 4],
                             [(6 + 3 + 7) / 3, (7 + 6 + 8 + 4) / 4, (8 + 5 + 7) / 3]])
    torch.testing.assert_close(pooled, expected)


def test_diamond_is_the_l1_ball_not_the_square() -> None:
    # 5x5, K=2: T = 2.5, radius 2. Centre: the diamond holds 13 positions, the square 25.
    assert int((diamond_matrix(5, 5, 2)[:, 12] > 0).sum()) == 13
    assert int((box_matrix(5, 5, 2)[:, 2] > 0).sum()) ** 2 == 25
    # 3x3, K=1: T = 3, so only the opposite corner (distance 4) is outside the corner's window.
    assert (diamond_matrix(3, 3, 1)[:, 0] == 0).nonzero().flatten().tolist() == [8]


@torch.no_grad()
def test_sliding_diamond_gate_is_eq1_on_each_clipped_diamond() -> None:
    m = block(scales=(2,), strategy="sliding-diamond").eval()
    randomise_bns(m)
    x = torch.randn(2, C, 5, 6)
    radius = math.isqrt(5 * 6 // 4)  # T = sqrt(30)/2 = 2.74: integer distances up to 2
    pooled = torch.empty_like(x)
    for h in range(5):
        for w in range(6):
            window = [(a, b) for a in range(5) for b in range(6) if abs(a - h) + abs(b - w) <= radius]
            pooled[:, :, h, w] = torch.stack([x[:, :, a, b] for a, b in window]).mean(0)
    torch.testing.assert_close(m(x), x * excitation(m, 2)(pooled))


def test_sliding_diamond_has_the_regional_parameter_count() -> None:
    # L·(S·h + h·C + 2h + 2C), C = S = 16, r = 3, L = 3: h = 1 -> 3·(16 + 16 + 2 + 32) = 198
    assert sum(p.numel() for p in block(strategy="sliding-diamond").parameters()) == 198


def test_training_at_batch_one_names_the_scale_and_the_fix() -> None:
    with pytest.raises(ShapeError, match=r"^ms-sar: .*scale K=1's global average.*batch of at least 2"):
        block().train()(torch.randn(1, C, 8, 8))
    assert block(scales=(2, 4)).train()(torch.randn(1, C, 8, 8)).shape == (1, C, 8, 8)  # 4 values per channel
    assert block().eval()(torch.randn(1, C, 8, 8)).shape == (1, C, 8, 8)


def test_a_scale_larger_than_the_map_is_reported_before_the_batch_of_one() -> None:
    with pytest.raises(ShapeError, match="K=4 .*K larger than the map"):
        block().train()(torch.randn(1, C, 3, 3))


# --- L = {1} is SE ---------------------------------------------------------------------------

def test_single_global_scale_has_se_structure() -> None:
    m = block(scales=(1,), reduction=4, feat_size=(7, 5))
    excite = excitation(m, 1)
    convs = [layer for layer in excite if isinstance(layer, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [(C, 4, (1, 1)), (4, C, (1, 1))]
    assert isinstance(excite[-1], nn.Sigmoid)
    assert all(b.dim() <= 1 for b in m.buffers())  # BN statistics only: no pooling matrices
    seen: list[torch.Size] = []
    excite.register_forward_hook(lambda _, args, out: seen.extend([args[0].shape, out.shape]))
    m(torch.randn(2, C, 7, 5))
    assert seen == [(2, C, 1, 1), (2, C, 1, 1)]  # global squeeze in, one gate per channel out


@torch.no_grad()
def test_single_global_scale_computes_se_given_the_same_weights() -> None:
    se = create_block("se", C, reduction=4).eval()
    m = block(scales=(1,), reduction=4).eval()
    excite = excitation(m, 1)
    for i, se_conv in ((1, conv(se, "mlp.reduce")), (2, conv(se, "mlp.expand"))):
        bn = excite.get_submodule(f"bn{i}")
        assert isinstance(bn, nn.BatchNorm2d) and bn.running_mean is not None and bn.running_var is not None
        assert se_conv.bias is not None
        conv(excite, f"omega{i}").weight.copy_(se_conv.weight)
        # An eval BN with mean 0, variance 1 - eps and weight 1 adds its bias: the SE conv bias.
        bn.running_mean.zero_()
        bn.running_var.fill_(1 - bn.eps)
        bn.weight.fill_(1.0)
        bn.bias.copy_(se_conv.bias)
    x = torch.randn(3, C, 7, 5)
    torch.testing.assert_close(m(x), se(x))


# --- shapes, multi-stage, parameters ----------------------------------------------------------

@pytest.mark.parametrize("strategy", ["regional", "sliding"])
@pytest.mark.parametrize("size", [(7, 7), (13, 9), (5, 5)], ids=str)
def test_output_keeps_the_shape_on_odd_and_non_divisible_maps(strategy: str, size: tuple[int, int]) -> None:
    for feat_size in (None, size):
        x = torch.randn(2, C, *size)
        assert block(strategy=strategy, feat_size=feat_size)(x).shape == x.shape


@torch.no_grad()
def test_multi_stage_gate_comes_from_the_source() -> None:
    m = block(source_channels=40).eval()
    randomise_bns(m)
    x, source = torch.randn(2, C, 7, 7), torch.randn(2, 40, 7, 7)
    out = m(x, source)
    assert out.shape == x.shape
    torch.testing.assert_close(m(2 * x, source), 2 * out)  # the gate does not depend on x
    assert not torch.allclose(m(x, torch.randn_like(source)), out)
    assert conv(excitation(m, 4), "omega1").in_channels == 40


def test_multi_stage_rejects_a_missing_or_mismatched_source() -> None:
    m = block(source_channels=40)
    x = torch.randn(2, C, 7, 7)
    with pytest.raises(ShapeError, match="source"):
        m(x)
    with pytest.raises(ShapeError, match="40"):
        m(x, torch.randn(2, 24, 7, 7))
    with pytest.raises(ShapeError, match="spatial"):
        m(x, torch.randn(2, 40, 8, 7))


@pytest.mark.parametrize("scales", [(1,), (1, 2), (2, 4), (1, 2, 4)], ids=str)
def test_weight_count_is_the_same_for_every_scale_set(scales: tuple[int, ...]) -> None:
    m = create_block("ms-sar", 36, scales=scales, reduction=3, source_channels=24)
    weights = sum(c.weight.numel() for c in m.modules() if isinstance(c, nn.Conv2d))
    assert weights == (24 + 36) * 36 // 3  # Sec. 3.5: D' = D/L per scale keeps the total fixed
    assert sum(p.numel() for p in m.parameters()) == m.formula_params()


@pytest.mark.parametrize(("arch", "table2"), [("cifar_resnet20", 0.28), ("cifar_resnet32", 0.48),
                                              ("cifar_resnet56", 0.89)])
def test_cifar_resnets_with_ms_sar_match_table_2(arch: str, table2: float) -> None:
    params = sum(p.numel() for p in create_model(arch, block="ms-sar").parameters())
    assert round(params / 1e6, 2) == table2


# --- validation --------------------------------------------------------------------------------

@pytest.mark.parametrize("scales", [(3,), (), (1, 1), (1, 8), 4, "124"], ids=repr)
def test_scales_must_be_a_subset_of_1_2_4(scales: object) -> None:
    with pytest.raises(ConfigError, match="scales"):
        block(scales=scales)


def test_unknown_strategy_and_empty_hidden_layer_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="sliding"):
        block(strategy="diamond")
    with pytest.raises(ConfigError, match="hidden width"):
        block(reduction=8)  # 16 // (8 * 3) = 0


def test_k_larger_than_the_map_is_an_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="K larger than the map"):
        block(feat_size=(3, 9))
    with pytest.raises(RecalibError, match="K larger than the map"):
        block()(torch.randn(2, C, 9, 3))
    assert block(strategy="sliding")(torch.randn(2, C, 3, 3)).shape == (2, C, 3, 3)


def test_feat_size_binds_the_block_to_that_size() -> None:
    m = block(feat_size=(7, 7))
    with pytest.raises(ShapeError, match="7x7"):
        m(torch.randn(2, C, 8, 8))


@pytest.mark.parametrize("strategy", ["regional", "sliding", "sliding-diamond"])
def test_a_meta_build_gives_the_matrices_shapes_without_computing_them(
        strategy: str, monkeypatch: pytest.MonkeyPatch) -> None:
    real = {n: tuple(b.shape) for n, b in block(strategy=strategy, feat_size=(13, 9)).named_buffers() if "matrix" in n}
    for builder in ("region_matrices", "box_matrix", "diamond_matrix"):
        monkeypatch.setattr(f"recalib.blocks.ms_sar.{builder}", lambda *a, **k: pytest.fail("a matrix was computed"))
    meta = meta_model(lambda: block(strategy=strategy, feat_size=(13, 9)), "MS-SAR")
    buffers = {n: b for n, b in meta.named_buffers() if "matrix" in n}
    assert {n: tuple(b.shape) for n, b in buffers.items()} == real and len(real) >= 2
    assert all(b.is_meta for b in buffers.values())
    with pytest.raises(ConfigError, match="K larger than the map"):  # still checked on the meta device
        meta_model(lambda: block(feat_size=(3, 9)), "MS-SAR")


@torch.no_grad()
def test_state_dict_moves_between_fixed_and_free_size_builds() -> None:
    fixed, free = block(feat_size=(13, 9)).eval(), block().eval()
    randomise_bns(fixed)
    free.load_state_dict(fixed.state_dict())
    x = torch.randn(2, C, 13, 9)
    torch.testing.assert_close(free(x), fixed(x))


# --- deployment --------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning", "ignore::DeprecationWarning")
def test_trace_sees_only_counted_ops() -> None:
    traced = torch.jit.trace(block(feat_size=(7, 7)).eval(), torch.randn(1, C, 7, 7), check_trace=False)
    kinds = {n.kind() for n in traced.inlined_graph.nodes() if n.kind().startswith("aten::")}
    assert kinds <= {"aten::mean", "aten::_convolution", "aten::batch_norm", "aten::relu", "aten::sigmoid",
                     "aten::matmul", "aten::transpose", "aten::add", "aten::div", "aten::mul"}


@torch.no_grad()
def test_onnx_export_uses_default_domain_ops_and_matches_onnxruntime(tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    m = block(feat_size=(7, 7)).eval()
    randomise_bns(m)
    x = torch.randn(2, C, 7, 7)
    torch.onnx.export(m, (x,), str(tmp_path / "ms_sar.onnx"), dynamo=True)
    graph = onnx.load(str(tmp_path / "ms_sar.onnx")).graph
    assert {node.domain for node in graph.node} <= {"", "ai.onnx"}
    assert not {"Gather", "Resize", "AveragePool"} & {node.op_type for node in graph.node}
    session = ort.InferenceSession(str(tmp_path / "ms_sar.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    torch.testing.assert_close(torch.from_numpy(out), m(x), rtol=1e-5, atol=1e-6)
