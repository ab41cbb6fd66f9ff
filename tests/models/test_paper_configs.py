"""Every network of the papers' parameter/FLOP tables builds by name, spelled out, near its printed count."""
from __future__ import annotations

import inspect
import json
from collections.abc import Iterator

import pytest

import recalib
from recalib.profiling.claims.measure import Measurer
from recalib.cli.main import main
from recalib.errors import ConfigError, UnknownNameError
from recalib.paper_configs import NAME_PATTERN, PaperConfig, get_paper_config, list_paper_configs, paper_names
from recalib.blocks import BLOCKS
from recalib.entries import keyword_names
from recalib.models import MODELS
from recalib.record import ModelRecord

#: Rows per table with a parameter or FLOP figure, counted in the paper texts (papers/*.txt),
#: and the rows that name a network the library does not have.
TABLE_ROWS = {
    ("gather-excite", "Table 1"): 5, ("gather-excite", "Table 2"): 6, ("gather-excite", "Table 3"): 6,
    ("gather-excite", "Table 4"): 7,
    ("ms-sar", "Table 1"): 5, ("ms-sar", "Table 2"): 10, ("ms-sar", "Table 3"): 16, ("ms-sar", "Table 4"): 3,
    ("ms-sar", "Table 5"): 9,
    ("competitive-se", "Table 1"): 9, ("competitive-se", "Table 2"): 12, ("competitive-se", "Table 3"): 13,
    ("contextual-convolution", "Table 3"): 4,
    ("squeeze-excitation", "official code"): 3,
}

#: Rows whose network is further from the printed count than 1% or the figure's own rounding, and
#: why (the claims audit's findings).
BEYOND_ONE_PERCENT = {
    **dict.fromkeys(["competitive-se/table-1/se-resnet-164", "competitive-se/table-1/cmpe-se-resnet-164-double-fc",
                     "competitive-se/table-1/cmpe-se-resnet-164-pair-2x1",
                     "competitive-se/table-1/cmpe-se-resnet-164-pair-1x1",
                     "competitive-se/table-1/cmpe-se-resnet-164-folded-3x3"],
                    "ResNet-164 rows: 2-3% under; the CIFAR-100 head and batch-norm statistics close most of it"),
    **dict.fromkeys(["gather-excite/table-4/ge-theta-e4", "gather-excite/table-4/ge-theta-e8",
                     "gather-excite/table-4/ge-theta", "gather-excite/table-4/ge-theta-plus"],
                    "ShuffleNet GE rows: no single insertion point gives the whole table (recalib.models.shufflenet)"),
    **dict.fromkeys(["ms-sar/table-2/dn-100", "ms-sar/table-3/densenet-100"],
                    "0.80 M printed; DenseNet-BC-100 has 0.769 M (0.793 M with batch-norm statistics)"),
    **dict.fromkeys([f"ms-sar/table-3/densenet-100-scales-{s}" for s in ("1", "2", "4", "1-2", "1-4", "2-4", "1-2-4")]
                    + ["ms-sar/table-2/dn-100-ms-sar", "ms-sar/table-2/dn-190-ms-sar"],
                    "the DenseNet MS-SAR rows add +0.19 M / +6.9 M; no reading gives more than +0.12 M / +4.4 M"),
    **dict.fromkeys(["ms-sar/table-5/resnet-18", "ms-sar/table-5/resnet-18-se", "ms-sar/table-5/resnet-18-ms-sar",
                     "ms-sar/table-5/resnet-34-se", "ms-sar/table-5/resnet-34-ms-sar"],
                    "Table 5's ResNet-18 (10.9 M) and its SE rows (+2.9 M, +5.6 M) fit no ResNet-18/34 count"),
}

#: Options a configuration may leave to the library: context the backbone supplies, and options
#: that do not change the network (initialisation, dropout) or that the variant does not use.
NOT_SETTINGS = {"feat_size", "width", "source_channels", "unit_channels", "zero_init_residual", "dropout", "hidden",
                "coefficients",
                "ch", "mix", "variant", "view", "groups", "width_per_group", "depth", "widen", "growth",
                "bottleneck", "block", "stages"}


def _distinct(configs: list[PaperConfig]) -> Iterator[tuple[ModelRecord, list[PaperConfig]]]:
    builds: dict[ModelRecord, list[PaperConfig]] = {}
    for config in configs:
        builds.setdefault(config.record, []).append(config)
    yield from builds.items()


@pytest.fixture(scope="module")
def counts(paper_measurer: Measurer) -> dict[str, int]:
    """Learnable parameters of every configuration; each distinct network is built once."""
    found = {}
    for build, configs in _distinct(list_paper_configs()):
        measurement = paper_measurer.get(build)
        assert measurement.error is None, f"{configs[0].name}: {measurement.error}"
        total = sum(n for cat, n in measurement.params.items() if cat in ("weight", "bias", "norm", "other"))
        found.update({config.name: total for config in configs})
    return found


def test_names_are_stable_lowercase_and_safe_inside_a_model_specification() -> None:
    names = [c.name for c in list_paper_configs()]
    assert len(names) == len(set(names)) == 101
    for name in names:
        assert NAME_PATTERN.fullmatch(name) and name == name.lower()
        assert not set("+:,= \t") & set(name), name
        assert name.split("/")[0] in paper_names()
    assert get_paper_config("ms-sar/table-5/resnext-50-ms-sar").row == "ResNeXt-50+MS-SAR"


def test_every_table_row_with_a_figure_is_a_configuration_or_listed_as_not_buildable() -> None:
    from recalib.paper_configs import load_paper
    found: dict[tuple[str, str], int] = {}
    for paper in paper_names():
        loaded = load_paper(paper)
        for row in [*loaded.configs, *loaded.unbuildable]:
            found[(paper, row.table)] = found.get((paper, row.table), 0) + 1
    assert found == TABLE_ROWS
    assert all(c.figures for c in list_paper_configs())


def test_every_configuration_builds_near_its_printed_count_or_is_a_known_gap(counts: dict[str, int]) -> None:
    beyond = {}
    for config in list_paper_configs():
        figure = config.figures.get("params")
        if figure is None:
            continue
        printed = float(figure.value) * figure.scale
        if abs(counts[config.name] - printed) > max(0.01 * printed, figure.half_unit(figure.value) * figure.scale):
            beyond[config.name] = counts[config.name]
    assert sorted(beyond) == sorted(BEYOND_ONE_PERCENT)
    assert len(counts) == len(list_paper_configs())


def test_the_counts_printed_to_the_parameter(counts: dict[str, int]) -> None:
    assert counts["squeeze-excitation/code/resnet-50"] == 25_557_032
    assert counts["squeeze-excitation/code/se-resnet-50"] == 28_088_024


def test_configurations_spell_out_the_papers_settings() -> None:
    for config in list_paper_configs():
        record = config.record
        model_options = keyword_names(MODELS.get(record.arch).builder) or set()
        wanted = {"num_classes", "input_size"} | ({"stride_in_1x1"} & model_options)
        if record.block is not None:
            entry = BLOCKS.get(record.block)
            params = inspect.signature(entry.builder).parameters.values()
            wanted |= {p.name for p in params if p.default is not inspect.Parameter.empty} - set(entry.fixed)
            wanted -= {"fold_cols", "fold_rows"}  # one of the two sets the fold
        assert wanted - NOT_SETTINGS <= set(record.options), f"{config.name} leaves {wanted - set(record.options)}"
    ms_sar = [c.record for c in list_paper_configs("ms-sar") if c.record.block == "ms-sar"]
    assert {r.options["reduction"] for r in ms_sar if r.arch.startswith("densenet")} == {1}
    assert {r.options["recalibration"] for r in ms_sar if r.arch.startswith("densenet")} == {"multi-stage"}
    assert {r.options["reduction"] for r in ms_sar if r.arch.startswith("res")} == {16}
    folded = [c for c in list_paper_configs("competitive-se") if c.record.block == "cmpe-se-folded-3x3"]
    assert {c.name.split("/")[-1]: c.record.options.get("fold_rows", c.record.options.get("fold_cols"))
            for c in folded} == {
        "cmpe-se-resnet-164-folded-3x3": 16, "cmpe-se-wrn-16-8-folded-3x3": 16,
        "cmpe-se-wrn-22-10-folded-3x3": 20, "cmpe-se-wrn-28-10-folded-3x3": 20}


def test_options_chosen_from_figures_carry_the_texts_literal_value() -> None:
    config = get_paper_config("ms-sar/table-2/rn-20-ms-sar")
    (fit,) = config.fitted
    assert (fit.option, fit.value, fit.text_value, fit.metric) == ("reduction", 3, 1, "params")
    assert "ms-sar/table-2/rn-56-ms-sar" in fit.figures
    assert get_paper_config("ms-sar/table-2/dn-100-ms-sar").fitted == ()


def test_create_builds_the_configuration_and_records_it_for_checkpoints() -> None:
    config = get_paper_config("contextual-convolution/table-3/input-independent-sine")
    model = config.create()
    record = model.recalib_record
    assert (record.arch, record.block) == ("cc_vgg_cifar100", "cc-static")
    assert config.record.options.items() <= record.options.items()
    assert record.options["emp"] == "sine" and record.options["first_width"] == 32
    assert config.input_size == (32, 32) and config.baseline is None and config.insertion


def test_unknown_names_list_the_closest_ones_and_unknown_papers_are_refused() -> None:
    with pytest.raises(UnknownNameError, match="ms-sar/table-5/resnext-50-ms-sar"):
        get_paper_config("ms-sar/table-5/resnext50-mssar")
    with pytest.raises(UnknownNameError, match="gather-excite/…"):
        get_paper_config("senet/table-1/se")
    with pytest.raises(ConfigError, match="ms-sar"):
        list_paper_configs("senet")


def test_the_api_exports_them_lazily() -> None:
    assert recalib.get_paper_config is get_paper_config and recalib.list_paper_configs is list_paper_configs
    assert len(recalib.list_paper_configs("contextual-convolution")) == 4


def test_recalib_models_lists_a_papers_rows_with_their_configuration(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "--paper", "contextual-convolution"]) == 0
    text = capsys.readouterr().out
    assert "contextual-convolution/table-3/cc-block-bilinear" in text and "first_width=32" in text
    assert "emp=bilinear" in text and "grid_size=11" in text and "input_size=(32, 32)" in text
    assert "params 1,511,428; printed: params 1.5 M" in text and "2 × C=32: 15,616" in text
    assert main(["models", "--paper", "contextual-convolution", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["name"].split("/")[-1] for c in data["configs"]] == [
        "cc-block-bilinear", "input-independent-bilinear", "input-independent-gaussian", "input-independent-sine"]
    assert data["configs"][3]["options"]["emp"] == "sine" and data["configs"][3]["params"] == 1_320_196
    assert data["not_buildable"] == []
    assert main(["models", "--paper", "senet"]) == 2
    assert main(["models", "--paper", "ms-sar", "--block", "se"]) == 2


def test_recalib_models_counts_on_the_meta_device_without_drawing_weights(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(self: PaperConfig) -> None:
        raise AssertionError("built with real weights")

    monkeypatch.setattr(PaperConfig, "create", refuse)
    assert main(["models", "--paper", "contextual-convolution"]) == 0
    assert "params 1,511,428" in capsys.readouterr().out  # the same counts, shapes only


def test_rows_that_cannot_be_built_say_why() -> None:
    from recalib.paper_configs import load_paper
    rows = {r.row: r for r in load_paper("competitive-se").unbuildable}
    assert len(rows) == 7 and str(rows["FractalNet (21)"].figures["params"]) == "38.6 M"
    assert "ImageNet ResNet-18" in rows["Pre-act ResNet-18"].reason
