"""The claims audit's report: one page per paper, every figure in the detail file, every number named."""
from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from recalib.cli.main import main
from recalib.errors import ConfigError
from recalib.profiling.claims.audit import ClaimsAudit, audit_claims
from recalib.profiling.claims.block_cost import BLOCK_COST
from recalib.profiling.claims.measure import Measurer
from recalib.profiling.claims.report import DETAIL, ClaimsSection
from recalib.profiling.claims.report_data import CONVENTION_ORDER, csv_row
from recalib.profiling.claims.verdicts import UNRESOLVABLE
from recalib.profiling.report.writer import write_report

#: (number column, the column naming the candidate behind it) in claims.csv
NAMED_NUMBERS = [("measured", "measured_by"), ("measured_without_block", "measured_by"),
                 ("candidate_value", "candidate"), ("without_block_value", "without_block_by"),
                 ("measured_delta", "measured_delta_by")]


def test_official_code_figures_are_reproduced_and_the_layouts_named(paper_measurer: Measurer) -> None:
    audit = audit_claims(["squeeze-excitation"], measurer=paper_measurer)
    verdicts = {r.claim.id: r for r in audit.results}
    assert verdicts["code/resnet-50:params"].measured.value == 25_557_032
    assert verdicts["code/se-resnet-50:params"].measured.value == 28_088_024
    torchvision = verdicts["code/resnet-50-torchvision:flops"]
    assert verdicts["code/resnet-50:flops"].verdict == torchvision.verdict == "reproduced"
    assert audit.layouts["default"] == pytest.approx(4.089, abs=1e-3)
    assert audit.layouts["caffe-layout"] == pytest.approx(3.858, abs=1e-3)


def test_recalib_audit_writes_every_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["audit", "-o", str(out), "--sections", "claims", "--papers", "contextual-convolution",
                 "--no-progress"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        ".recalib-report.json", DETAIL, "claims.csv", "report.json", "report.md"]
    claims = json.loads((out / "report.json").read_text())["sections"]["claims"]
    assert claims["counts"]["reproduced"] == 1 and claims["counts"][UNRESOLVABLE] == 3
    assert sum(claims["counts"].values()) == 4 and claims["block_cost"]["no implied delta"] == 4
    rows = list(csv.DictReader((out / "claims.csv").open()))
    assert {r["verdict"] for r in rows} == {"reproduced", UNRESOLVABLE} and len(rows) == 4
    assert "## Summary" in (out / "report.md").read_text() and "Contextual Convolution" in (out / DETAIL).read_text()
    assert "report.md" in capsys.readouterr().out


@pytest.fixture(scope="module")
def quick_report(quick_audit: ClaimsAudit, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("quick")
    write_report(out, [ClaimsSection(quick_audit)])
    return out


def _paper_pages(markdown: str) -> dict[str, list[str]]:
    """The claims section's pages by paper title, as lines."""
    body = markdown[markdown.index("## Claims audit"):]
    pages = re.split(r"^### ", body, flags=re.M)[1:]
    return {page.split("\n", 1)[0]: page.split("\n") for page in pages}


def test_report_md_gives_each_paper_one_page_and_the_detail_file_every_figure(
        quick_report: Path, quick_audit: ClaimsAudit) -> None:
    pages = _paper_pages((quick_report / "report.md").read_text())
    assert len(pages) == 5
    for title, lines in pages.items():
        assert len(lines) <= 60, title
        assert any(line.startswith("- **Counted**") for line in lines)
        assert any(line.startswith("- **Figures**") and "explained" in line for line in lines)
        assert any(line.startswith("- **The block's own cost**") for line in lines)
    ms_sar = "\n".join(next(lines for title, lines in pages.items() if title.startswith("Multi-Scale")))
    assert "`option-b-shortcut` used" in ms_sar and "`text: reduction=1`" in ms_sar
    assert "| Sec. 4.1, RN-20* vs RN-20 (flops) | ~0.3% | `mac-learned` → 0.174% | unexplained |" in ms_sar
    detail = (quick_report / DETAIL).read_text()
    assert all(f"**{r.claim.id}**" in detail for r in quick_audit.results)
    assert detail.count("candidates tried") == len(quick_audit.results)
    assert detail.count("  - without the block:") == sum(r.claim.on_block for r in quick_audit.results)


def test_report_json_names_each_number_and_writes_nothing_twice(quick_report: Path) -> None:
    claims = json.loads((quick_report / "report.json").read_text())["sections"]["claims"]
    assert claims["conventions"] == CONVENTION_ORDER
    for paper in claims["papers"]:
        method = paper["method"]
        assert method["figures"] == len(paper["claims"]) and 0 <= method["explains"] <= method["figures"]
        assert {r["name"] for r in paper["readings"] if r["used_by_method"]} == set(method["readings"])
        assert all(r["words"] for r in paper["readings"])
        assert len(set(paper["notes"])) == len(paper["notes"])
        for claim in paper["claims"]:
            assert set(claim["measured"]) >= {"candidate", "value"} and "derivation" not in claim
            assert all(0 <= i < len(paper["notes"]) for i in claim["notes"])
            assert all(len(values) == len(CONVENTION_ORDER[claim["metric"]]) for values in claim["tried"].values())
            assert ("tried_without_block" in claim) == (claim["block_cost"] is not None)
            if claim["block_cost"] is not None:
                assert claim["block_cost"]["verdict"] in BLOCK_COST
                assert claim["measured"]["without_block"] is not None or claim["verdict"] == "not measured"


def test_claims_csv_names_the_candidate_behind_every_number(quick_report: Path, params_audit: ClaimsAudit) -> None:
    rows = list(csv.DictReader((quick_report / "claims.csv").open()))
    rows += [{k: "" if v is None else str(v) for k, v in csv_row(r).items()} for r in params_audit.results]
    for row in rows:
        for number, name in NAMED_NUMBERS:
            assert not row[number] or row[name], (row["id"], number)
    # the delta the CSV shows for ResNet-18+MS-SAR is its configuration's, named, not the nearest candidate's
    r18 = next(r for r in params_audit.results if r.claim.id == "table-5/resnet-18-ms-sar:params")
    row = csv_row(r18)
    assert row["measured_delta"] == pytest.approx(0.092376, abs=1e-6) and row["measured_delta_by"] == "params"
    assert row["block_cost"] == "fails"


def test_unknown_paper_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["audit", "-o", str(tmp_path / "r"), "--papers", "nope", "--no-progress"]) == 2


@pytest.mark.slow
def test_the_full_report_fits_a_reviewer(paper_measurer: Measurer, tmp_path: Path) -> None:
    """Every paper's page of the full audit stays about a page; report.json stays far below its old 1.7 MB."""
    write_report(tmp_path, [ClaimsSection(audit_claims(measurer=paper_measurer))])
    pages = _paper_pages((tmp_path / "report.md").read_text())
    assert len(pages) == 5 and all(len(lines) <= 70 for lines in pages.values())
    assert (tmp_path / "report.json").stat().st_size < 600_000


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
