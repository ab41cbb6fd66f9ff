"""The claims data: one source of truth with the paper configurations, merged repeats, honest tolerances."""
from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources

import pytest

from recalib.profiling.claims.papers import Claim, PaperClaims, load_papers, matches, paper_names, tolerance, within_one_percent
from recalib.errors import ConfigError
from recalib.paper_configs import Figure, get_paper_config

PAPERS = ("competitive-se", "contextual-convolution", "gather-excite", "ms-sar", "squeeze-excitation")


@pytest.fixture(scope="module")
def papers() -> dict[str, PaperClaims]:
    return {p.paper: p for p in load_papers()}


def _claim(papers: dict[str, PaperClaims], paper: str, claim_id: str) -> Claim:
    return next(c for c in papers[paper].claims if c.id == claim_id)


def test_every_paper_has_configurations_and_claims(papers: dict[str, PaperClaims]) -> None:
    assert tuple(paper_names()) == PAPERS == tuple(papers)
    assert all(p.claims for p in papers.values())
    assert papers["squeeze-excitation"].about.kind == "code notes" and papers["ms-sar"].about.kind == "paper"


def test_the_audit_data_names_rows_and_never_restates_a_configuration() -> None:
    for paper in PAPERS:
        raw = json.loads((resources.files("recalib.profiling.claims") / "data" / f"{paper}.json").read_text("utf-8"))
        for claim in raw["claims"]:
            assert not {"arch", "block", "options", "stages"} & set(claim), claim["id"]
            for target in claim["on"]:
                for key in [target] if isinstance(target, str) else target:
                    get_paper_config(f"{paper}/{key}")


def test_a_figure_repeated_for_the_same_network_is_one_claim_listing_every_table(
        papers: dict[str, PaperClaims]) -> None:
    ms_sar = papers["ms-sar"]
    dn100 = _claim(papers, "ms-sar", "table-1/densenet-100:flops")
    assert dn100.where == ("Table 1, DenseNet-100 (FLOPs row)", "Table 2, DN-100",
                           "Table 3, DenseNet-100, no recalibration")
    assert len(dn100.configs) == 3
    printed = sum(len(c.where) for c in ms_sar.claims)
    assert printed - len(ms_sar.claims) == 12
    ids = [(c.paper, c.id) for p in papers.values() for c in p.claims]
    assert len(ids) == len(set(ids))


def test_data_slips_are_fixed(papers: dict[str, PaperClaims]) -> None:
    # Sec. 4.3: "using ∼1% extra FLOPs and 10% extra parameters": the tilde belongs to the 1%.
    params = _claim(papers, "ms-sar", "sec43-vs-baseline-params@table-5/resnext-50-ms-sar")
    flops = _claim(papers, "ms-sar", "sec43-vs-baseline-flops@table-5/resnext-50-ms-sar")
    assert (params.printed, flops.printed) == ("10%", "~1%")
    # The Intro and Sec. 4.1-4.3 overheads are about the same rows as the tables, with their settings.
    intro = _claim(papers, "ms-sar", "intro-flops-at-most-1pct@table-2/dn-100-ms-sar")
    table = _claim(papers, "ms-sar", "table-2/dn-100-ms-sar:flops")
    assert intro.build == table.build and intro.build.options["reduction"] == 1
    rx50 = _claim(papers, "ms-sar", "sec43-vs-se-params@table-5/resnext-50-ms-sar")
    assert rx50.build.options["reduction"] == 16 and rx50.baseline is not None and rx50.baseline.block == "se"


def test_self_contradictions_name_the_other_figure(papers: dict[str, PaperClaims]) -> None:
    rn56 = _claim(papers, "ms-sar", "table-1/resnet-56:flops")
    assert "125.7 M" in rn56.contradiction and "Table 2, RN-56" in rn56.contradiction
    # 2.12 M over 1.95 M is +8.18% to +9.25% within the rounding of both: never 0.2-5%.
    double_fc = _claim(papers, "competitive-se", "sec42-over-se@table-1/cmpe-se-resnet-164-double-fc")
    assert "SE-ResNet-164 1.95 M" in double_fc.contradiction and "+8.18% to +9.25%" in double_fc.contradiction
    assert not _claim(papers, "competitive-se", "sec42-over-se@table-1/cmpe-se-resnet-164-pair-1x1").contradiction
    # 37.04 M (Table 3) rounds to 37.0 M (Table 2): consistent, not a contradiction.
    assert not _claim(papers, "competitive-se", "table-3/cmpe-se-wrn-28-10-double-fc:params").contradiction


@pytest.mark.parametrize(("claim_id", "reach"), [
    ("sec42-over-se@table-1/cmpe-se-resnet-164-pair-2x1", 0.51),  # 1.95 M over 1.95 M: up to 1.955/1.945 - 1
    ("sec42-over-se@table-2/cmpe-se-wrn-28-10-pair-2x1", 0.27)])  # 36.8 M over 36.8 M: up to 36.85/36.75 - 1
def test_rows_printed_alike_do_not_contradict_an_overhead_their_rounding_reaches(
        papers: dict[str, PaperClaims], claim_id: str, reach: float) -> None:
    claim = _claim(papers, "competitive-se", claim_id)
    assert claim.over is not None
    row, base = (get_paper_config(name).figures["params"] for name in (claim.configs[0], claim.over))
    assert str(row) == str(base)
    high = 100 * ((float(row.value) + row.half_unit(row.value)) / (float(base.value) - base.half_unit(base.value)) - 1)
    assert round(high, 2) == reach and matches(claim.figure, high)  # 0.2-5% accepts from 0.15%
    assert not claim.contradiction


def test_a_figure_that_says_what_it_counts_is_counted_that_way(papers: dict[str, PaperClaims]) -> None:
    weights = _claim(papers, "squeeze-excitation", "code-se-fc-weights@code/se-resnet-50")
    assert weights.convention == "weights" and not weights.contradiction  # not the tables' params difference
    assert all(c.convention is None for c in papers["ms-sar"].claims)


def test_every_reading_quotes_what_it_rests_on(papers: dict[str, PaperClaims]) -> None:
    readings = {r.name: r for p in papers.values() for c in p.claims for r in c.readings}
    assert {"option-b-shortcut", "after-second-conv", "caffe-layout", "single-stage", "text: reduction=1",
            "cifar100-head", "cc-full", "cc-no-mix"} == set(readings)
    assert all(r.words for r in readings.values())
    option_b = readings["option-b-shortcut"]
    assert option_b.options == {"shortcut": "B"} and "[7]" in option_b.words
    rows = {c.configs[0] for c in papers["ms-sar"].claims if option_b in c.readings}
    assert {r.split("/")[-1] for r in rows} >= {"resnet-20", "rn-20", "rn-32-ms-sar", "resnet-56-scales-2-4"}
    assert all(get_paper_config(r).record.arch.startswith("cifar_resnet") for r in rows)


def test_the_cmpe_se_papers_se_rows_use_no_fc_biases_as_its_official_code() -> None:
    assert get_paper_config("competitive-se/table-2/se-wrn-28-10").record.options["bias"] is False
    assert get_paper_config("gather-excite/table-2/se").record.options["bias"] is True


def test_a_block_row_carries_the_papers_implied_delta_or_why_there_is_none(papers: dict[str, PaperClaims]) -> None:
    rn20 = _claim(papers, "ms-sar", "table-2/rn-20-ms-sar:params")
    assert rn20.implied is not None and rn20.implied.baseline == "ms-sar/table-2/rn-20"
    assert rn20.implied.value == pytest.approx(0.01) and rn20.implied.tolerance == pytest.approx(0.01)
    assert rn20.fit is not None and rn20.fit.text_value == 1
    wrn16 = _claim(papers, "competitive-se", "table-2/cmpe-se-wrn-16-8-pair-1x1:params")
    assert wrn16.implied is None and "no wrn16_8 row" in wrn16.no_delta and wrn16.removed is not None
    assert wrn16.removed.block is None
    table1 = _claim(papers, "ms-sar", "table-1/resnet-20:flops")
    assert table1.implied is None and not table1.on_block


def test_readings_attach_to_every_claim_on_the_same_row(papers: dict[str, PaperClaims]) -> None:
    rows = {}
    for claim in papers["ms-sar"].claims:
        for name in claim.configs:
            rows.setdefault((name, claim.build), set()).add(tuple(r.name for r in claim.readings))
    assert all(len(readings) == 1 for readings in rows.values())
    names = {r.name for c in papers["ms-sar"].claims for r in c.readings}
    assert names == {"single-stage", "caffe-layout", "text: reduction=1", "option-b-shortcut", "after-second-conv"}


def _figure(text: str) -> Figure:
    return Figure.parse(text, "test")


def test_tolerance_is_the_printed_rounding_and_one_percent_is_its_own_weaker_test() -> None:
    assert tolerance(_figure("25.6 M")) == pytest.approx(0.05) and tolerance(_figure("25557032")) == 0.5
    assert matches(_figure("3.86 G"), 3.8649) and not matches(_figure("3.86 G"), 3.8651)
    assert within_one_percent(_figure("125.7 M"), 125.486) and not matches(_figure("125.7 M"), 125.486)
    assert not within_one_percent(_figure("~ 0.3 %"), 0.3)


def test_approximate_figures_bounds_and_ranges() -> None:
    assert matches(_figure("~ 0.3 %"), 0.21) and not matches(_figure("~ 0.3 %"), 0.19)
    assert matches(_figure("<= 1 %"), 1.4) and not matches(_figure("<= 1 %"), 1.6)
    ranged = _figure("0.2-5 %")
    assert ranged.qualifier == "range" and ranged.value_max == Decimal("5")
    assert matches(ranged, 5.4) and not matches(ranged, 5.6) and not matches(ranged, 0.14)


def test_bad_figures_and_unknown_papers_are_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError, match="paper's digits"):
        Figure.parse("about 3", "test")
    with pytest.raises(ConfigError, match="gather-excite"):
        load_papers(["senet"])
