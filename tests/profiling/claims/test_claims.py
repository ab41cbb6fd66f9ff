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
    double_fc = _claim(papers, "competitive-se", "sec42-over-se@table-1/cmpe-se-resnet-164-double-fc")
    assert "SE-ResNet-164 1.95 M" in double_fc.contradiction and "+8.72%" in double_fc.contradiction
    pair = _claim(papers, "competitive-se", "sec42-over-se@table-2/cmpe-se-wrn-28-10-pair-2x1")
    assert "+0.00%" in pair.contradiction
    assert not _claim(papers, "competitive-se", "sec42-over-se@table-1/cmpe-se-resnet-164-pair-1x1").contradiction
    # 37.04 M (Table 3) rounds to 37.0 M (Table 2): consistent, not a contradiction.
    assert not _claim(papers, "competitive-se", "table-3/cmpe-se-wrn-28-10-double-fc:params").contradiction


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
    assert names == {"single-stage", "caffe-layout", "text: reduction=1"}


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
