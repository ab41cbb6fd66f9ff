"""Every verdict category on real claims from the papers, and the block's own cost behind each one."""
from __future__ import annotations

import pytest

from recalib.profiling.claims.papers import load_papers, matches
from recalib.profiling.claims.audit import ClaimsAudit, audit_claims
from recalib.profiling.claims.candidates import candidates, evaluate
from recalib.profiling.claims.verdicts import ClaimResult, explains, judge
from recalib.profiling.claims.measure import Measurer

HOLDS = ("reproduced", "paper's method", "row-specific")


@pytest.fixture(scope="module")
def quick(paper_measurer: Measurer) -> ClaimsAudit:
    """The quick subset of every paper (small CIFAR nets, plain ResNet-50): every verdict occurs in it."""
    return audit_claims(quick=True, measurer=paper_measurer)


@pytest.fixture(scope="module")
def se_notes(paper_measurer: Measurer) -> ClaimsAudit:
    return audit_claims(["squeeze-excitation"], metrics=("params",), measurer=paper_measurer)


def _result(audit: ClaimsAudit, paper: str, claim_id: str) -> ClaimResult:
    return next(r for r in audit.of(paper) if r.claim.id == claim_id)


def test_reproduced_to_the_printed_digit_with_the_blocks_own_cost(se_notes: ClaimsAudit) -> None:
    r = _result(se_notes, "squeeze-excitation", "code/se-resnet-50:params")
    assert r.verdict == "reproduced" and r.measured == 28_088_024
    assert r.claim.implied is not None and r.claim.implied.value == 2_530_992
    assert r.delta_verdict == "reproduced" and r.default.delta == 2_530_992


def test_chosen_from_this_figure_shows_the_texts_literal_reading(quick: ClaimsAudit) -> None:
    r = _result(quick, "ms-sar", "table-2/rn-20-ms-sar:params")
    assert r.verdict == "chosen from this figure"
    assert r.measured == pytest.approx(0.282, abs=5e-4) and r.text is not None
    assert r.text.candidate.readings == ("text: reduction=1",) and r.text.value == pytest.approx(0.304, abs=5e-4)


def test_explained_by_the_papers_method(quick: ClaimsAudit) -> None:
    # SE-ResNet-110: 1.7448 M learnable; MXNet's collect_params() adds batch-norm statistics: 1.7529 M.
    r = _result(quick, "competitive-se", "table-1/se-resnet-110:params")
    assert quick.methods["competitive-se"].conventions["params"] == "params+stats"
    assert r.verdict == "paper's method" and r.decided_by is not None
    assert r.decided_by.candidate.convention == "params+stats" and round(r.decided_by.value or 0, 2) == 1.75


def test_a_row_specific_choice_is_named(quick: ClaimsAudit) -> None:
    r = _result(quick, "competitive-se", "table-1/se-resnet-164:params")
    assert r.verdict == "row-specific" and r.decided_by is not None
    assert r.decided_by.candidate.label == "params+stats · cifar100-head"


def test_within_one_percent_is_a_weaker_named_verdict(quick: ClaimsAudit) -> None:
    r = _result(quick, "ms-sar", "table-2/rn-20-ms-sar:flops")
    assert r.verdict == "within 1%" and not r.default.exact and r.decided_by is not None
    assert r.decided_by.candidate.convention == quick.methods["ms-sar"].conventions["flops"]
    assert r.delta_verdict in HOLDS  # the block's +0.07 M against the paper's 40.9 − 40.8 M


def test_the_paper_contradicts_itself(quick: ClaimsAudit) -> None:
    r = _result(quick, "competitive-se", "sec42-over-se@table-1/cmpe-se-resnet-164-double-fc")
    assert r.verdict == "contradicts itself" and r.measured == pytest.approx(9.71, abs=0.01)
    assert "CMPE-SE-ResNet-164 – Double FC 2.12 M" in r.claim.contradiction and r.delta_verdict == "unexplained"


def test_a_figure_that_cannot_test_its_block(quick: ClaimsAudit) -> None:
    r = _result(quick, "contextual-convolution", "table-3/input-independent-sine:params")
    assert r.verdict == "block untested" and r.claim.implied is None
    assert r.default.exact and r.default.removed_exact  # 1.3 M with or without the 3,840 parameters


def test_unexplained_gives_the_nearest_candidate_and_its_gap(quick: ClaimsAudit) -> None:
    r = _result(quick, "ms-sar", "sec41-flops-resnets@table-2/rn-20-ms-sar")
    assert r.verdict == "unexplained" and r.nearest is not None and r.nearest.value is not None
    assert 0.1 < r.nearest.value < 0.2  # the block adds 0.17% of RN-20's FC multiply-adds, not ~0.3%
    assert len(r.tried) == len(candidates(r.claim))


def test_every_verdict_occurs_on_real_claims(quick: ClaimsAudit) -> None:
    found = {r.verdict for r in quick.results}
    assert found >= {"reproduced", "chosen from this figure", "paper's method", "row-specific", "within 1%",
                     "contradicts itself", "block untested", "unexplained"}


def test_removing_the_block_never_leaves_a_reproduced_figure_untested(
        quick: ClaimsAudit, paper_measurer: Measurer) -> None:
    """Every parameter figure on a block in every paper, and every FLOP figure on a block in the quick subset.

    *reproduced* is decided by the row's configuration under the default counting alone, so judging
    each parameter figure on that outcome gives its verdict without trying the other candidates.
    """
    judged = [judge(claim, [evaluate(claim, candidates(claim)[0], paper_measurer)], None)
              for paper in load_papers() for claim in paper.claims if claim.metric == "params"]
    checked = 0
    for r in [*judged, *(r for r in quick.results if r.claim.metric == "flops")]:
        claim = r.claim
        if not claim.on_block or claim.relative is not None or r.verdict != "reproduced":
            continue
        assert claim.removed is not None and claim.removed.block is None
        without = paper_measurer.get(claim.removed).params if claim.metric == "params" else None
        removed = r.default.removed if without is None else sum(
            n for cat, n in without.items() if cat in ("weight", "bias", "norm", "other")) / claim.figure.scale
        assert removed is not None
        if matches(claim.figure, removed):
            assert r.default.delta_ok and r.delta_verdict == "reproduced", claim.id
        checked += 1
    assert checked >= 20


def test_each_paper_reports_its_counting_method_and_coverage(quick: ClaimsAudit) -> None:
    for paper, method in quick.methods.items():
        results = quick.of(paper)
        assert method.total == len(results)
        assert method.explained == sum(r.method is not None and explains(r.claim, r.method) for r in results)
    assert quick.methods["competitive-se"].label == "parameters as `params+stats`; no reading"
