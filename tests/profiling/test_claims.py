"""The claims files parse, every claim names a buildable model, and the verdict rules hold."""
from __future__ import annotations

import json
from decimal import Decimal
from importlib import resources

import pytest
import torch

from profiling.claims import QUALIFIERS, Build, Claim, ClaimReading, load_papers, paper_names
from profiling.claims_audit import candidates, judge, matches, tolerance
from profiling.measure import Measurer, build_model
from recalib.errors import ConfigError

PAPERS = ("competitive-se", "contextual-convolution", "gather-excite", "ms-sar", "squeeze-excitation")


def test_one_claims_file_per_paper_parses() -> None:
    assert tuple(paper_names()) == PAPERS
    papers = load_papers()
    assert all(p.claims for p in papers)
    ids = [(c.paper, c.id) for p in papers for c in p.claims]
    assert len(ids) == len(set(ids))


def test_every_table_the_issue_names_is_covered() -> None:
    tables = {(c.paper, c.table) for p in load_papers() for c in p.claims}
    wanted = {("gather-excite", f"Table {i}") for i in (1, 2, 3, 4)}
    wanted |= {("ms-sar", f"Table {i}") for i in (2, 3, 5)}
    wanted |= {("competitive-se", f"Table {i}") for i in (1, 2, 3)}
    wanted |= {("contextual-convolution", "Table 3")}
    assert wanted <= tables


def test_claims_keep_the_printed_digits_and_the_papers_words() -> None:
    for paper in load_papers():
        raw = json.loads((resources.files("profiling") / "claims" / f"{paper.paper}.json").read_text("utf-8"))
        assert all(isinstance(c["value"], str) for c in raw["claims"])
        assert all(c.words for c in paper.claims), paper.paper
        assert all(c.qualifier in QUALIFIERS for c in paper.claims)


def _all_builds() -> set[Build]:
    builds: set[Build] = set()
    for paper in load_papers():
        for claim in paper.claims:
            for cand in candidates(claim, paper.preset):
                builds.update(b for b in (cand.build, cand.baseline) if b is not None)
    return builds


def test_every_claim_and_reading_names_a_buildable_model() -> None:
    failures = []
    for build in sorted(_all_builds(), key=Build.describe):
        try:
            with torch.device("meta"):  # shapes only: building 160 models on CPU is slow
                build_model(build)
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            failures.append(f"{build.describe()}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)


def _claim(value: str, qualifier: str = "=", unit: str = "M", **kw: object) -> Claim:
    return Claim("x", "test", "T", "row", Build.of("cifar_resnet20"), "params", Decimal(value), unit,
                 qualifier=qualifier, **kw)


def test_tolerance_is_one_percent_or_the_printed_rounding() -> None:
    assert tolerance(_claim("25.6")) == pytest.approx(0.256)
    assert tolerance(_claim("1.9")) == pytest.approx(0.05)
    assert matches(_claim("1.9"), 1.87) and not matches(_claim("1.9"), 1.84)
    assert tolerance(_claim("25557032", "exact", "")) == 0.5


def test_approximate_bounds_and_ranges() -> None:
    assert matches(_claim("0.3", "~", "%"), 0.22) and not matches(_claim("0.3", "~", "%"), 0.19)
    assert matches(_claim("1", "<=", "%"), 1.4) and not matches(_claim("1", "<=", "%"), 1.6)
    ranged = _claim("0.2", "range", "%", value_max=Decimal("5"))
    assert matches(ranged, 4.9) and not matches(ranged, 5.6) and not matches(ranged, 0.1)


def test_verdicts_reproduced_explained_unexplained() -> None:
    measurer = Measurer()
    params = measurer.get(Build.of("cifar_resnet20")).params
    total = sum(v for k, v in params.items() if k != "norm_stats")
    assert judge(_claim(str(total), "exact", ""), measurer).verdict == "reproduced"
    weights = judge(_claim(str(params["weight"] + params["other"]), "exact", ""), measurer)
    assert weights.verdict == "explained" and weights.explanation.label == "weights"
    far = judge(_claim("9.99"), measurer)
    assert far.verdict == "unexplained" and far.gap_pct == pytest.approx(100 * (total / 1e6 - 9.99) / 9.99)


def test_a_reading_in_the_data_file_can_explain_a_claim() -> None:
    measurer = Measurer()
    c100 = measurer.get(Build.of("cifar_resnet20", options={"num_classes": 100})).params
    value = sum(v for k, v in c100.items() if k != "norm_stats") / 1e6
    claim = _claim(f"{value:.4f}", readings=(ClaimReading("c100", "CIFAR-100 head", {"num_classes": 100}),))
    result = judge(claim, measurer)
    assert result.verdict == "explained" and result.explanation.label == "c100 + params"


def test_unknown_papers_are_refused_with_the_valid_names() -> None:
    with pytest.raises(ConfigError, match="gather-excite"):
        load_papers(["senet"])
