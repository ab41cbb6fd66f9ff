"""Every verdict on real claims from the papers, one method per paper, and no verdict that passes without the block."""
from __future__ import annotations

import pytest

from claims_testing import judge_without_block
from recalib.profiling.claims.audit import ClaimsAudit, audit_claims
from recalib.profiling.claims.candidates import candidates
from recalib.profiling.claims.measure import Measurer
from recalib.profiling.claims.verdicts import EXPLAINED, STRENGTH, UNRESOLVABLE, ClaimResult, explains, fitted


def _result(audit: ClaimsAudit, paper: str, claim_id: str) -> ClaimResult:
    return next(r for r in audit.of(paper) if r.claim.id == claim_id)


def test_reproduced_to_the_printed_digit_with_the_blocks_own_cost(paper_measurer: Measurer) -> None:
    audit = audit_claims(["squeeze-excitation"], metrics=("params",), measurer=paper_measurer)
    r = _result(audit, "squeeze-excitation", "code/se-resnet-50:params")
    assert r.verdict == "reproduced" and r.measured.value == 28_088_024 and r.measured.removed == 25_557_032
    assert r.claim.implied is not None and r.claim.implied.value == 2_530_992
    assert r.block_cost is not None and r.block_cost.verdict == "holds" and r.block_cost.measured == 2_530_992


def test_a_figure_that_says_what_it_counts_is_the_papers_method(params_audit: ClaimsAudit) -> None:
    r = _result(params_audit, "squeeze-excitation", "code-se-fc-weights@code/se-resnet-50")
    assert r.verdict == "paper's method" and r.decided_by is r.method and r.method is not None
    assert r.method.candidate.label == "weights" and r.method.value == 2_514_944 and r.default.value == 2_530_992


def test_chosen_from_this_figure_shows_the_texts_literal_reading_and_never_holds(quick_audit: ClaimsAudit) -> None:
    r = _result(quick_audit, "ms-sar", "table-2/rn-20-ms-sar:params")
    assert r.verdict == "chosen from this figure" and r.text is not None
    assert r.measured.value == pytest.approx(0.2848, abs=5e-4)  # option B: +2,752 parameters on 0.282 M
    assert "text: reduction=1" in r.text.candidate.readings and r.text.value == pytest.approx(0.307, abs=1e-3)
    assert r.block_cost is not None and r.block_cost.verdict == "not counted" and "chosen" in r.block_cost.note


def test_explained_by_the_papers_method(quick_audit: ClaimsAudit) -> None:
    # SE-ResNet-110 without FC biases (the official code): 1.7426 M learnable, 1.7507 M with batch-norm statistics.
    r = _result(quick_audit, "competitive-se", "table-1/se-resnet-110:params")
    assert quick_audit.methods["competitive-se"].conventions["params"] == "params+stats"
    assert r.verdict == "paper's method" and r.decided_by is r.method and r.method is not None
    assert r.method.candidate.convention == "params+stats" and round(r.method.value or 0, 2) == 1.75
    assert r.default.value == pytest.approx(1.7426, abs=1e-4)
    # its implied +0.05 ± 0.055 M cannot tell the block from none
    assert r.block_cost is not None and r.block_cost.verdict == "unresolvable"


def test_another_convention_alone_is_a_closeness_label_not_an_explanation(params_audit: ClaimsAudit) -> None:
    # DenseNet-BC-190: 25.62 M learnable; the paper's params+stats gives 25.88 M.
    r = _result(params_audit, "competitive-se", "table-3/densenet-bc-190:params")
    assert r.verdict == "row-specific" and r.method is not None and r.decided_by is not None
    assert round(r.method.value or 0, 2) == 25.88 and r.decided_by.candidate.label == "params"


def test_within_one_percent_is_judged_under_the_papers_method_and_never_holds(quick_audit: ClaimsAudit) -> None:
    r = _result(quick_audit, "competitive-se", "table-1/cmpe-se-resnet-164-double-fc:params")
    assert r.verdict == "within 1%" and not r.measured.exact and r.decided_by is r.method
    assert r.block_cost is not None and r.block_cost.verdict == "not counted"
    assert all(x.block_cost is None or x.block_cost.verdict != "holds" for x in quick_audit.results
               if x.verdict == "within 1%")


def test_the_paper_contradicts_itself(quick_audit: ClaimsAudit) -> None:
    r = _result(quick_audit, "competitive-se", "sec42-over-se@table-1/cmpe-se-resnet-164-double-fc")
    assert r.verdict == "contradicts itself" and r.measured.value == pytest.approx(10.08, abs=0.01)
    assert "CMPE-SE-ResNet-164 – Double FC 2.12 M" in r.claim.contradiction
    assert r.block_cost is not None and r.block_cost.verdict == "fails"


def test_a_figure_the_network_without_its_block_gives_too_is_not_resolvable(quick_audit: ClaimsAudit) -> None:
    r = _result(quick_audit, "contextual-convolution", "table-3/input-independent-sine:params")
    assert r.verdict == UNRESOLVABLE and r.without_block is not None and r.without_block[0] == "reproduced"
    assert r.measured.exact and r.measured.removed_exact  # 1.3 M with or without the 3,840 parameters
    bound = _result(quick_audit, "ms-sar", "intro-flops-at-most-1pct@table-2/rn-20-ms-sar")
    assert bound.verdict == UNRESOLVABLE and bound.measured.removed == 0.0  # "<= 1%" holds for no block at all
    assert bound.block_cost is not None and bound.block_cost.verdict == "unresolvable"


def test_unexplained_gives_the_nearest_candidate_and_the_relative_figure_fails(quick_audit: ClaimsAudit) -> None:
    r = _result(quick_audit, "ms-sar", "sec41-flops-resnets@table-2/rn-20-ms-sar")
    assert r.verdict == "unexplained" and r.nearest is not None and r.nearest.value is not None
    assert 0.1 < r.nearest.value < 0.2  # the block adds 0.17% of RN-20's FC multiply-adds, not ~0.3%
    assert len(r.tried) == len(candidates(r.claim))
    assert r.block_cost is not None and r.block_cost.verdict == "fails" and r.block_cost.measured == r.measured.value


def test_the_option_b_reading_gives_the_flop_rows(quick_audit: ClaimsAudit) -> None:
    r = _result(quick_audit, "ms-sar", "table-1/resnet-20:flops")
    assert r.verdict == "paper's method" and r.method is not None and r.default.value is not None
    assert r.method.candidate.readings == ("option-b-shortcut",) and r.method.value == pytest.approx(40.813, abs=1e-3)
    assert round(r.default.value, 2) == 40.55  # option A: 40.6 M, not the printed 40.8 M


def test_every_verdict_and_every_block_cost_occurs_on_real_claims(quick_audit: ClaimsAudit) -> None:
    assert {r.verdict for r in quick_audit.results} == {v for v in STRENGTH} | {UNRESOLVABLE, "contradicts itself",
                                                                                   "unexplained"}
    assert {r.block_cost.verdict for r in quick_audit.results if r.block_cost} == {
        "holds", "fails", "unresolvable", "not counted", "no implied delta"}


def test_one_method_per_paper_decides_every_figure_and_its_blocks_cost(
        quick_audit: ClaimsAudit, params_audit: ClaimsAudit) -> None:
    for audit in (quick_audit, params_audit):
        for r in audit.results:
            method = audit.methods[r.claim.paper]
            assert r.method is not None and r.method.candidate == method.candidate(r.claim)
            assert r.measured is r.method
            if r.verdict in EXPLAINED:
                assert r.decided_by is r.method
            if r.block_cost is not None and r.block_cost.verdict != "no implied delta":
                assert r.block_cost.by is r.method
        for paper, method in audit.methods.items():
            results = audit.of(paper)
            assert method.total == len(results)
            assert method.explained == sum(r.verdict in EXPLAINED for r in results)
            assert method.explained == sum(r.method is not None and explains(r.claim, r.method, r.tried)
                                           for r in results)


def test_the_blocks_cost_holds_only_where_the_digits_exclude_no_block_and_the_figure_is_explained(
        quick_audit: ClaimsAudit, params_audit: ClaimsAudit) -> None:
    holds = [r for a in (quick_audit, params_audit) for r in a.results
             if r.block_cost is not None and r.block_cost.verdict == "holds"]
    assert len(holds) >= 20
    for r in holds:
        assert r.verdict in EXPLAINED and r.method is not None and not fitted(r.claim, r.method, r.tried)
        if r.claim.relative is None:
            assert r.claim.implied is not None and not r.claim.implied.allows_zero
            assert abs((r.method.delta or 0) - r.claim.implied.value) <= r.claim.implied.tolerance
        else:
            assert r.method.exact and not r.method.removed_exact


def _passing_on_a_block(audit: ClaimsAudit) -> list[ClaimResult]:
    return [r for r in audit.results if r.claim.on_block and STRENGTH.get(r.verdict, 0)]


@pytest.mark.parametrize("which", ["quick_audit", "params_audit"])
def test_no_verdict_passes_without_the_block(which: str, request: pytest.FixtureRequest,
                                            paper_measurer: Measurer) -> None:
    """Every figure on a block (quick subset: parameters and FLOPs; every paper: parameters), judged
    again as a claim on its network with the block removed (relative figures: the network they
    compare), under the same method: no passing verdict keeps its strength, every figure called
    not resolvable is matched without the block, and the verdict the audit reports for the
    network without the block is that verdict."""
    audit: ClaimsAudit = request.getfixturevalue(which)
    passing = _passing_on_a_block(audit)
    assert len(passing) >= (10 if which == "quick_audit" else 40)
    _check_without_block(audit, passing, paper_measurer)


def _check_without_block(audit: ClaimsAudit, passing: list[ClaimResult], measurer: Measurer) -> None:
    strengths = {id(r): STRENGTH[r.verdict] for r in passing}
    for r in [x for x in audit.results if x.claim.on_block]:
        fresh = judge_without_block(audit, r, measurer)
        assert r.without_block is None or fresh.verdict == r.without_block[0], r.claim.id
        if id(r) in strengths:
            assert STRENGTH.get(fresh.verdict, 0) < strengths[id(r)], r.claim.id
        elif r.verdict == UNRESOLVABLE:
            assert STRENGTH.get(fresh.verdict, 0) > 0, r.claim.id


@pytest.mark.slow
def test_no_verdict_passes_without_the_block_on_every_figure(paper_measurer: Measurer) -> None:
    """The same on every figure of every paper, parameters and FLOPs (the full audit: about a minute)."""
    audit = audit_claims(measurer=paper_measurer)
    passing = _passing_on_a_block(audit)
    assert len(passing) >= 70
    _check_without_block(audit, passing, paper_measurer)
