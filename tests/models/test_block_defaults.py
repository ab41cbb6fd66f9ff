"""Per-backbone block defaults (recalib/models/block_defaults.py): the papers' family settings,
explicit options winning, and the effective options recorded for checkpoints."""
from __future__ import annotations

import json
from typing import Any

import pytest
import torch

import recalib
from model_testing import n_params
from recalib import arch_entry, create_model, list_blocks, list_models
from recalib.cli.main import main
from recalib.models import MODELS, block_defaults
from recalib.models.block_defaults import BLOCK_DEFAULTS, defaults_for

IMAGENET = [a for a in list_models() if arch_entry(a).dataset == "imagenet"]


def meta(arch: str, block: str | None = None, **options: Any) -> torch.nn.Module:
    with torch.device("meta"):  # shapes only: every count here needs no values
        return create_model(arch, block, **options)


def test_every_row_names_a_registered_block_and_backbones_and_cites_its_paper() -> None:
    for row in BLOCK_DEFAULTS:
        assert row.block in list_blocks() and row.backbones(MODELS), row
        assert set(row.archs) <= set(list_models()), row
        assert row.source.split()[0] in {"MS-SAR", "CMPE-SE"}, "each row cites its paper section"


def test_the_imagenet_row_covers_every_imagenet_backbone_and_nothing_else() -> None:
    (row,) = [r for r in BLOCK_DEFAULTS if r.dataset == "imagenet"]
    assert row.backbones(MODELS) == sorted(IMAGENET) and len(IMAGENET) == 15
    assert all(defaults_for(arch_entry(a), "ms-sar") == [row] for a in IMAGENET)


@pytest.mark.parametrize("arch", ["resnet18", "preact_resnet18_imagenet", "shufflenet_v1_g3"])
def test_ms_sar_takes_the_imagenet_ratio(arch: str) -> None:
    blocks = meta(arch, "ms-sar").recalibration_blocks()
    assert {b.reduction for b in blocks} == {16}
    assert all(b.hidden == b.channels // (16 * 3) for b in blocks)


def test_ms_sar_resnext50_is_table_5s_model() -> None:
    """MS-SAR Table 5: ResNeXt-50 + MS-SAR 27.6M (SE 27.5M); the CIFAR ratio r = 3 gives 38.5M."""
    default = n_params(meta("resnext50_32x4d", "ms-sar"))
    assert default == 27_589_722 and round(default / 1e6, 1) == 27.6
    assert n_params(meta("resnext50_32x4d", "ms-sar", reduction=3)) == 38_480_442  # explicit wins


def test_cifar_resnets_keep_the_blocks_own_ms_sar_setting() -> None:
    assert defaults_for(arch_entry("cifar_resnet20"), "ms-sar") == []
    assert {b.reduction for b in meta("cifar_resnet56", "ms-sar").recalibration_blocks()} == {3}


def test_densenet_ms_sar_is_multi_stage_with_d_over_three() -> None:
    """Sec. 3.4: gates from the main vector; Sec. 4.1: D' = D/3 per scale (r = 1, h = 12 // 3 = 4)."""
    model = meta("densenet_bc100", "ms-sar")
    layer = model.dense2[3]
    assert layer.multi_stage and layer.recal.source_channels == 144
    assert {(b.reduction, b.hidden) for b in model.recalibration_blocks()} == {(1, 4)}
    assert model.recalib_record.options["recalibration"] == "multi-stage"


def test_explicit_options_win_key_by_key() -> None:
    single = meta("densenet_bc100", "ms-sar", recalibration="single-stage")
    assert {(b.source_channels, b.reduction) for b in single.recalibration_blocks()} == {(12, 1)}
    ratio = meta("densenet_bc100", "ms-sar", reduction=3)
    assert {(b.source_channels > 12, b.reduction) for b in ratio.recalibration_blocks()} == {(True, 3)}


@pytest.mark.parametrize(("arch", "maps"), [("wrn28_10", [(20, 16), (20, 32), (20, 64)]),
                                            ("wrn22_10", [(20, 16), (20, 32), (20, 64)]),
                                            ("wrn16_8", [(16, 16), (16, 32), (16, 64)])])
def test_wrn_folds_by_rows(arch: str, maps: list[tuple[int, int]]) -> None:
    """CMPE-SE Sec. 4.1: n = 20 rows on WRNs (n = 2k = 16 on WRN-16-8, whose C/10 is not whole)."""
    blocks = meta(arch, "cmpe-se-folded-3x3").recalibration_blocks()
    assert sorted({b.map_size for b in blocks}) == maps


def test_fold_cols_replaces_the_default_fold_rows() -> None:
    blocks = meta("wrn28_10", "cmpe-se-folded-3x3", fold_cols=16).recalibration_blocks()
    assert sorted({b.map_size for b in blocks}) == [(20, 16), (40, 16), (80, 16)]
    preact = meta("preact_resnet164", "cmpe-se-folded-3x3").recalibration_blocks()
    assert {b.map_size[1] for b in preact} == {16}  # pre-act ResNets: the block's own m = 16


def test_table_2_wrn_totals() -> None:
    """CMPE-SE Table 2: folded CMPE-SE-WRN-28-10 36.9M, -22-10 27.1M, -16-8 11.1M (CIFAR-100 head)."""
    totals = {a: n_params(meta(a, "cmpe-se-folded-3x3", num_classes=100)) for a in ("wrn28_10", "wrn22_10", "wrn16_8")}
    assert {a: round(n / 1e6, 1) for a, n in totals.items()} == {"wrn28_10": 36.9, "wrn22_10": 27.1, "wrn16_8": 11.1}


def test_other_blocks_and_bare_backbones_get_nothing_added() -> None:
    assert meta("resnet50", "se").recalib_record.options == {"reduction": 16, "pool": "avg", "activation": "relu",
                                                             "gate": "sigmoid", "hidden_from": "channels", "round_to": 1,
                                                             "bias": True}
    assert meta("resnet50").recalib_record.options == {}


def test_the_record_holds_every_effective_option() -> None:
    record = meta("resnext50_32x4d", "ms-sar", scales=(1, 4)).recalib_record
    assert record.options == {"scales": (1, 4), "strategy": "regional", "reduction": 16}


def test_a_checkpoint_rebuilds_the_same_model_after_the_defaults_change(tmp_path, monkeypatch) -> None:
    options: dict[str, Any] = {"stages": [3], "scales": (1, 2), "input_size": (64, 64), "num_classes": 3}
    model = create_model("shufflenet_v1_g3", "ms-sar", **options)  # an ImageNet backbone: r = 16
    path = recalib.save_checkpoint(model, tmp_path / "shufflenet.safetensors")
    monkeypatch.setattr(block_defaults, "BLOCK_DEFAULTS", ())  # a later release without the rows
    assert n_params(meta("shufflenet_v1_g3", "ms-sar", **options)) != n_params(model)
    loaded = recalib.load_checkpoint(path).eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(loaded(x), model.eval()(x), rtol=0, atol=0)


def test_recalib_blocks_lists_the_backbone_defaults(capsys) -> None:
    assert main(["blocks", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    ms_sar = rows["ms-sar"]["backbone_defaults"]
    assert {"options": {"reduction": 16}} .items() <= ms_sar[0].items()
    assert "resnext50_32x4d" in ms_sar[0]["backbones"] and "cifar_resnet20" not in ms_sar[0]["backbones"]
    assert ms_sar[1]["backbones"] == ["densenet_bc100", "densenet_bc190"]
    assert rows["ms-sar"]["alternatives"]["sliding L1 diamonds (Sec. 3.2's formula)"] == {"strategy": "sliding-diamond"}
    assert main(["blocks"]) == 0
    text = capsys.readouterr().out
    assert "default on wrn22_10, wrn28_10: fold_rows=20" in text and "also: average_filters=False" in text
