"""CMPE-SE family: inner-imaged layouts, reference computations, identity dependence, errors, counts."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from recalib.blocks import block_entry, create_block
from recalib.blocks.cmpe_se import CMPESEDoubleFC, CMPESEFolded, CMPESEPairView
from recalib.errors import ConfigError, ShapeError
from recalib.models._insertion import BlockFactory

NAMES = ["cmpe-se-double-fc", "cmpe-se-pair-2x1", "cmpe-se-pair-1x1", "cmpe-se-folded-3x3"]


def _randomize_bn(block: nn.Module) -> None:
    """Non-trivial BN statistics and affine weights, so the references exercise BN fully."""
    for bn in block.modules():
        if isinstance(bn, nn.BatchNorm2d):
            n = bn.num_features
            bn.running_mean.copy_(torch.randn(n))
            bn.running_var.copy_(torch.rand(n) + 0.5)
            with torch.no_grad():
                bn.weight.copy_(torch.randn(n))
                bn.bias.copy_(torch.randn(n))


def _bn_eval(z: torch.Tensor, bn: nn.BatchNorm2d, e: int) -> torch.Tensor:
    return (z - bn.running_mean[e]) / torch.sqrt(bn.running_var[e] + bn.eps) * bn.weight[e] + bn.bias[e]


def _excite(block: nn.Module, v: torch.Tensor) -> torch.Tensor:
    """``σ(W2 · ReLU(W1 · v))`` written out with the block's weights."""
    return torch.sigmoid(torch.relu(v @ block.embed.weight.T) @ block.excitation.weight.T)


def _pairs(n: int = 2, c: int = 32, hw: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(n, c, hw, hw), torch.randn(n, c, hw, hw)


# --- tensor layouts --------------------------------------------------------------------------

def test_pair_view_map_holds_residual_in_column_0_and_identity_in_column_1() -> None:
    block = CMPESEPairView(32)
    u, x = torch.arange(32.0).expand(2, 32), -1 - torch.arange(32.0).expand(2, 32)
    image = block.image(u, x)
    assert image.shape == (2, 1, 32, 2)
    assert torch.equal(image[:, 0, :, 0], u) and torch.equal(image[:, 0, :, 1], x)


@pytest.mark.parametrize("channels, options, shape", [
    (64, {"fold_cols": 16}, (8, 16)),    # pre-act ResNet: (n = 2C/16, m = 16)
    (160, {"fold_rows": 20}, (20, 16)),  # WRN-28-10 stage 1: (n = 20, m = C/10)
    (32, {"fold_cols": 4}, (16, 4)),
])
def test_folded_map_alternates_residual_and_identity_rows_as_in_eq_15(channels, options, shape) -> None:
    block = CMPESEFolded(channels, **options)
    u = torch.arange(float(channels)).expand(2, channels)
    x = 1000 + u  # identity values are recognisable
    image = block.image(u, x)
    rows, m = shape
    assert image.shape == (2, 1, rows, m)
    for j in range(rows // 2):
        assert torch.equal(image[:, 0, 2 * j], u[:, j * m:(j + 1) * m])
        assert torch.equal(image[:, 0, 2 * j + 1], x[:, j * m:(j + 1) * m])


def test_folded_map_equals_the_official_reshape_transpose_of_the_pair_map() -> None:
    block = CMPESEFolded(64, fold_cols=16)
    u, x = torch.randn(3, 64), torch.randn(3, 64)
    pair = CMPESEPairView(64).image(u, x)  # (N, 1, C, 2)
    official = pair.reshape(3, 64 // 16, 16, 2).transpose(2, 3).reshape(3, 1, -1, 16)
    assert torch.equal(block.image(u, x), official)


# --- reference computations ------------------------------------------------------------------

def test_double_fc_matches_hand_written_reference() -> None:
    block = CMPESEDoubleFC(32).eval()
    r, i = _pairs()
    u, x = r.mean((2, 3)), i.mean((2, 3))
    hidden = torch.cat([torch.relu(u @ block.embed_residual.weight.T),
                        torch.relu(x @ block.embed_identity.weight.T)], dim=1)
    s = torch.sigmoid(hidden @ block.excitation.weight.T)
    torch.testing.assert_close(block(r, i), r * s[:, :, None, None])


def test_pair_2x1_matches_hand_written_reference() -> None:
    block = CMPESEPairView(32, view="2x1", width=32, t=16).eval()  # ε = 2
    _randomize_bn(block)
    r, i = _pairs()
    u, x = r.mean((2, 3)), i.mean((2, 3))
    w = block.reimage.weight[:, 0, 0]  # (ε, 2): one weight for the residual, one for the identity
    v = sum(_bn_eval(w[e, 0] * u + w[e, 1] * x, block.norm, e) for e in range(2)) / 2
    torch.testing.assert_close(block(r, i), r * _excite(block, v)[:, :, None, None])


def test_pair_1x1_matches_hand_written_reference_with_interleaved_flatten() -> None:
    block = CMPESEPairView(32, view="1x1", width=48, t=16).eval()  # ε = 3
    _randomize_bn(block)
    r, i = _pairs()
    u, x = r.mean((2, 3)), i.mean((2, 3))
    w = block.reimage.weight[:, 0, 0, 0]
    v = torch.zeros(2, 64)
    for e in range(3):
        v[:, 0::2] += _bn_eval(w[e] * u, block.norm, e) / 3  # flattened (C, 2): û¹, x̂¹, û², x̂², …
        v[:, 1::2] += _bn_eval(w[e] * x, block.norm, e) / 3
    torch.testing.assert_close(block(r, i), r * _excite(block, v)[:, :, None, None])


def test_folded_3x3_matches_hand_written_reference() -> None:
    block = CMPESEFolded(32, fold_cols=8, width=32, t=16).eval()  # 8x8 map, ε = 2
    _randomize_bn(block)
    r, i = _pairs()
    u, x = r.mean((2, 3)), i.mean((2, 3))
    folded = torch.zeros(2, 8, 8)
    for j in range(4):
        folded[:, 2 * j], folded[:, 2 * j + 1] = u[:, 8 * j:8 * j + 8], x[:, 8 * j:8 * j + 8]
    v = torch.zeros(2, 6, 6)
    for e in range(2):
        conv = torch.zeros(2, 6, 6)
        for a in range(6):
            for b in range(6):
                conv[:, a, b] = (folded[:, a:a + 3, b:b + 3] * block.reimage.weight[e, 0]).sum((1, 2))
        v += _bn_eval(conv, block.norm, e) / 2
    torch.testing.assert_close(block(r, i), r * _excite(block, v.flatten(1))[:, :, None, None])


def test_pair_2x1_without_filter_averaging_flattens_filter_by_filter() -> None:
    """Sec. 4.4's alternative: the ε maps are not averaged; the FC sees [map of filter 0, map of filter 1]."""
    block = CMPESEPairView(32, view="2x1", width=32, t=16, average_filters=False).eval()  # ε = 2
    _randomize_bn(block)
    r, i = _pairs()
    u, x = r.mean((2, 3)), i.mean((2, 3))
    w = block.reimage.weight[:, 0, 0]
    v = torch.cat([_bn_eval(w[e, 0] * u + w[e, 1] * x, block.norm, e) for e in range(2)], dim=1)
    assert block.embed.in_features == 64
    torch.testing.assert_close(block(r, i), r * _excite(block, v)[:, :, None, None])


@pytest.mark.parametrize(("name", "options", "expected"), [
    # C = 64, r = 16 (h = 4), width 64 -> ε = 4: conv ε·kh·kw + BN 2ε + FCs (F + C)·h
    ("cmpe-se-pair-2x1", {}, 4 * 4 + (64 + 64) * 4),
    ("cmpe-se-pair-2x1", {"average_filters": False}, 4 * 4 + (4 * 64 + 64) * 4),
    ("cmpe-se-pair-1x1", {"average_filters": False}, 3 * 4 + (4 * 128 + 64) * 4),
    ("cmpe-se-folded-3x3", {"average_filters": False}, 11 * 4 + (4 * 6 * 14 + 64) * 4),  # 8x16 map
])
def test_parameters_with_and_without_filter_averaging(name: str, options: dict, expected: int) -> None:
    block = create_block(name, 64, width=64, **options)
    assert sum(p.numel() for p in block.parameters()) == expected == block.formula_params()


def test_average_filters_must_be_a_bool() -> None:
    with pytest.raises(ConfigError, match="average_filters must be true or false, got the str 'no'"):
        create_block("cmpe-se-pair-1x1", 64, average_filters="no")


@pytest.mark.parametrize("name", NAMES)
def test_calling_without_the_identity_names_the_block_and_the_fix(name: str) -> None:
    with pytest.raises(ShapeError, match=rf"^{name} computes its gate from the residual and the identity.*"
                                         rf"block\(residual, identity\)"):
        create_block(name, 64)(torch.randn(2, 64, 4, 4))


# --- behaviour -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_gate_depends_on_the_identity(name: str) -> None:
    block = create_block(name, 64).eval()
    _randomize_bn(block)
    r, i = _pairs(c=64)
    assert not torch.allclose(block(r, i), block(r, i + torch.randn_like(i)))


@pytest.mark.parametrize("name", NAMES)
def test_train_mode_accepts_a_batch_of_one(name: str) -> None:
    # BN normalises over each filter's whole inner-imaged map, so N = 1 still has statistics.
    block = create_block(name, 64).train()
    r, i = _pairs(n=1, c=64)
    assert block(r, i).shape == r.shape


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("identity_shape", [(2, 32, 4, 4), (2, 64, 2, 2), (1, 64, 4, 4), (2, 64, 16)])
def test_identity_of_another_shape_raises_shape_error_naming_both(name: str, identity_shape) -> None:
    block = create_block(name, 64)
    with pytest.raises(ShapeError) as err:
        block(torch.randn(2, 64, 4, 4), torch.randn(*identity_shape))
    assert "(2, 64, 4, 4)" in str(err.value) and str(tuple(identity_shape)) in str(err.value)


def test_wrong_residual_channels_raise_shape_error() -> None:
    with pytest.raises(ShapeError, match="64 channels"):
        create_block("cmpe-se-pair-1x1", 64)(torch.randn(2, 32, 4, 4), torch.randn(2, 32, 4, 4))


# --- configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("channels, options, named", [
    (64, {"fold_cols": 10}, "fold_cols=10"),              # does not divide C
    (16, {"fold_cols": 16}, "at least 3x3"),              # 2 x 16 map: no 3x3 window fits
    (64, {"fold_cols": 2}, "fold_cols=2"),                # 64 x 2 map is narrower than 3
    (128, {"fold_rows": 20}, "fold_rows=20"),             # WRN-16-8 with the WRN-28-10 fold
    (64, {"fold_rows": 7}, "must be even"),
    (64, {"fold_rows": 8, "fold_cols": 16}, "not both"),
    (64, {"fold_cols": 16.0}, "fold_cols=16.0"),
])
def test_invalid_fold_raises_config_error_naming_it(channels, options, named) -> None:
    with pytest.raises(ConfigError, match=named):
        CMPESEFolded(channels, **options)


@pytest.mark.parametrize("name", NAMES[1:])
@pytest.mark.parametrize("options, named", [({"t": 0}, r"t \(bottleneck"), ({"width": 0}, "width"),
                                            ({"width": 8.0}, "width"), ({"reduction": 128}, "reduction")])
def test_invalid_inner_imaging_options_raise_config_error(name: str, options, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        create_block(name, 64, **options)


def test_unknown_pair_view_raises_config_error() -> None:
    with pytest.raises(ConfigError, match="2x1, 1x1"):
        CMPESEPairView(64, view="3x3")  # type: ignore[arg-type]


@pytest.mark.parametrize("name, option", [("cmpe-se-double-fc", "width"), ("cmpe-se-double-fc", "t"),
                                          ("cmpe-se-pair-2x1", "fold_cols"), ("cmpe-se-pair-1x1", "view")])
def test_options_that_do_not_apply_are_rejected(name: str, option: str) -> None:
    with pytest.raises(ConfigError, match=option):
        create_block(name, 64, **{option: 16})


def test_backbone_width_reaches_inner_imaging_blocks_and_is_dropped_for_double_fc() -> None:
    assert BlockFactory(block_entry("cmpe-se-pair-2x1"))(256, width=64).filters == 4  # ε = C/64 on bottlenecks
    assert BlockFactory(block_entry("cmpe-se-folded-3x3"), {"fold_rows": 20})(640, width=640).filters == 40  # WRN
    assert isinstance(BlockFactory(block_entry("cmpe-se-double-fc"))(256, width=64), CMPESEDoubleFC)


def test_filter_count_defaults_to_a_quarter_of_channels_over_t_and_never_drops_to_zero() -> None:
    assert CMPESEPairView(256).filters == 4
    assert CMPESEPairView(32).filters == 1  # official Python-2 `8 / 16` would build zero filters


# --- parameter counts ------------------------------------------------------------------------

@pytest.mark.parametrize("block, expected", [
    (CMPESEDoubleFC(256), 4 * 256 * 16),
    (CMPESEPairView(256, view="2x1", width=64), 4 * 4 + 2 * 256 * 16),
    (CMPESEPairView(256, view="1x1", width=64), 3 * 4 + 3 * 256 * 16),
    (CMPESEFolded(256, width=64), 11 * 4 + (30 * 14 + 256) * 16),     # 32 x 16 map → 30 x 14
    (CMPESEFolded(640, fold_rows=20, width=640), 11 * 40 + (18 * 62 + 640) * 40),  # 20 x 64 → 18 x 62
])
def test_formula_params_match_the_docstring_formulas_and_numel(block: nn.Module, expected: int) -> None:
    assert block.formula_params() == expected == sum(p.numel() for p in block.parameters())


def _network_overhead(name: str, stages: list[tuple[int, int, int]], **options: int) -> int:
    """Sum over (blocks, C, width) stages of one block's parameter formula."""
    return sum(n * create_block(name, c, width=w, **options).formula_params() for n, c, w in stages)


RESNET164 = [(18, 64, 16), (18, 128, 32), (18, 256, 64)]     # bottlenecks, expansion 4
WRN28_10 = [(4, 160, 160), (4, 320, 320), (4, 640, 640)]     # basic blocks: width = C


@pytest.mark.parametrize("name, stages, options, overhead", [
    # Paper Table 1 (ResNet-164, ~1.70M baseline): double FC 2.12M, 2x1 1.95M, 1x1 2.04M, 3x3 1.99M.
    ("cmpe-se-pair-2x1", RESNET164, {}, 194_040),
    ("cmpe-se-pair-1x1", RESNET164, {}, 290_682),
    ("cmpe-se-folded-3x3", RESNET164, {"fold_cols": 16}, 253_386),
    # Paper Table 3 (WRN-28-10, 36.48M baseline): 1x1 36.92M, 3x3 36.90M.
    ("cmpe-se-pair-1x1", WRN28_10, {}, 404_040),
    ("cmpe-se-folded-3x3", WRN28_10, {"fold_rows": 20}, 369_320),
])
def test_network_overheads_follow_the_official_structure(name, stages, options, overhead) -> None:
    assert _network_overhead(name, stages, **options) == overhead


def test_double_fc_network_overheads() -> None:
    resnet = sum(n * CMPESEDoubleFC(c).formula_params() for n, c, _ in RESNET164)
    wrn = sum(n * CMPESEDoubleFC(c).formula_params() for n, c, _ in WRN28_10)
    assert (resnet, wrn) == (387_072, 537_600)  # Table 3: WRN-28-10 double FC 37.04M
