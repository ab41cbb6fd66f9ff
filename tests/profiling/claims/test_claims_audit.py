"""The claims audit and the report run end to end on small subsets."""
from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from recalib.profiling.claims.audit import audit_claims
from recalib.profiling.claims.measure import Measurer
from recalib.profiling.report.writer import write_report
from recalib.cli.main import main
from recalib.errors import ConfigError


def test_official_code_figures_are_reproduced_and_the_layouts_named(paper_measurer: Measurer) -> None:
    audit = audit_claims(["squeeze-excitation"], measurer=paper_measurer)
    verdicts = {r.claim.id: r for r in audit.results}
    assert verdicts["code/resnet-50:params"].measured == 25_557_032
    assert verdicts["code/se-resnet-50:params"].measured == 28_088_024
    weights = verdicts["code-se-fc-weights@code/se-resnet-50"]
    assert weights.verdict == "row-specific" and weights.decided_by is not None
    assert weights.decided_by.candidate.label == "weights" and weights.decided_by.value == 2_514_944
    torchvision = verdicts["code/resnet-50-torchvision:flops"]
    assert verdicts["code/resnet-50:flops"].verdict == torchvision.verdict == "reproduced"
    assert audit.layouts["default"] == pytest.approx(4.089, abs=1e-3)
    assert audit.layouts["caffe-layout"] == pytest.approx(3.858, abs=1e-3)


def test_recalib_audit_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["audit", "-o", str(out), "--sections", "claims", "--papers", "contextual-convolution",
                 "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".recalib-report.json", "claims.csv", "report.json", "report.md"]
    report = json.loads((out / "report.json").read_text())
    claims = report["sections"]["claims"]
    assert claims["counts"]["reproduced"] == 1 and claims["counts"]["block untested"] == 3
    assert sum(claims["counts"].values()) == 4
    rows = list(csv.DictReader((out / "claims.csv").open()))
    assert {r["verdict"] for r in rows} == {"reproduced", "block untested"} and len(rows) == 4
    markdown = (out / "report.md").read_text()
    assert "## Summary" in markdown and "Contextual Convolution Blocks" in markdown
    assert "report.md" in capsys.readouterr().out


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quick")
    assert main(["audit", "--quick", "--sections", "claims", "-o", str(out), "--no-progress"]) == 0
    return out


def test_quick_audit_runs_end_to_end_with_sane_verdicts(quick_report: Path) -> None:
    claims = json.loads((quick_report / "report.json").read_text())["sections"]["claims"]
    counts = claims["counts"]
    assert counts["not measured"] == 0 and sum(counts.values()) >= 30
    papers = {p["paper"]: p for p in claims["papers"]}
    assert len(papers) == 5 and papers["squeeze-excitation"]["kind"] == "code notes"


def test_report_json_carries_every_block_claims_own_cost_and_every_papers_method(quick_report: Path) -> None:
    claims = json.loads((quick_report / "report.json").read_text())["sections"]["claims"]
    for paper in claims["papers"]:
        method = paper["method"]
        assert method["figures"] == len(paper["claims"]) and 0 <= method["explains"] <= method["figures"]
        assert set(method["conventions"]) == {c["metric"] for c in paper["claims"]}
        for claim in paper["claims"]:
            block = claim["block"]
            assert claim["derivation"] and len(claim["tried"]) >= 3 and claim["tolerance"] > 0
            if block is None:
                continue
            assert block["delta_verdict"] in ("reproduced", "paper's method", "row-specific", "unexplained",
                                              "no implied delta")
            assert (block["implied_delta"] is None) == bool(block["no_implied_delta"])
            assert block["measured_delta"] is not None or claim["verdict"] == "not measured"


def test_each_papers_summary_says_in_five_lines_how_it_counted_and_what_holds(quick_report: Path) -> None:
    markdown = (quick_report / "report.md").read_text()
    section = markdown[markdown.index("### Multi-Scale"):]
    lines = section.split("\n")
    numbered = [line for line in lines[:12] if line[:2] in ("1.", "2.", "3.", "4.", "5.")]
    assert len(numbered) == 5
    assert "How it counted" in numbered[0] and "`mac-learned" in numbered[0]
    assert "holds" in numbered[2] and "does not hold" in numbered[3]
    assert "candidates tried" in section and "tolerance ±" in section


def test_unknown_paper_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["audit", "-o", str(tmp_path / "r"), "--papers", "nope", "--no-progress"]) == 2


class _Section:
    key, title = "demo", "Demo"

    def __init__(self, csv_name: str = "demo.csv") -> None:
        self.csv_name = csv_name

    def summary(self) -> list[str]:
        return ["one line"]

    def markdown(self) -> str:
        return "## Demo\n\nbody"

    def to_json(self) -> dict[str, Any]:
        return {"x": 1}

    def tables(self) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        return {self.csv_name: [{"a": 1, "b": 2}]}


def test_report_sections_plug_in_and_leave_no_temporary_files(tmp_path: Path) -> None:
    files = write_report(tmp_path, [_Section()], title="t")
    assert [f.name for f in files] == ["report.md", "report.json", "demo.csv"]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".recalib-report.json", "demo.csv", "report.json", "report.md"]
    assert json.loads((tmp_path / "report.json").read_text())["sections"]["demo"] == {"x": 1}
    assert (tmp_path / "report.md").read_text().index("one line") < (tmp_path / "report.md").read_text().index("body")


def test_report_refuses_clashing_csv_names_and_a_file_as_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="demo.csv"):
        write_report(tmp_path / "a", [_Section(), _Section()])
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a folder"):
        write_report(tmp_path / "file", [_Section()])
