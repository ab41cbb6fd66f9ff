"""A report folder: recalib replaces and deletes only what checksums prove it wrote; one run at a time."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from recalib.profiling.report.folder import RECORD, ReportFolder
from recalib.errors import OutputError


def _write(folder: Path, files: dict[str, str], force: bool = False) -> list[Path]:
    with ReportFolder(folder, files, force) as report:
        return report.write(files)


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_rewrite_removes_the_earlier_report_files_it_no_longer_writes(tmp_path: Path) -> None:
    _write(tmp_path, {"report.md": "one", "latency.csv": "a,b\n", "plot.png": "png"})
    (tmp_path / "notes.txt").write_text("mine")
    _write(tmp_path, {"report.md": "two"})
    assert _names(tmp_path) == [RECORD, "notes.txt", "report.md"]
    assert (tmp_path / "report.md").read_text() == "two" and (tmp_path / "notes.txt").read_text() == "mine"
    assert set(json.loads((tmp_path / RECORD).read_text())["files"]) == {"report.md"}


def test_a_report_file_the_user_edited_is_kept_and_not_replaced_without_force(tmp_path: Path) -> None:
    _write(tmp_path, {"report.md": "one", "latency.csv": "a,b\n"})
    (tmp_path / "latency.csv").write_text("a,b\n1,2  <- my annotation\n")
    (tmp_path / "report.md").write_text("my edits")
    with pytest.raises(OutputError, match="holds report.md.*cannot prove it wrote it"):
        _write(tmp_path, {"report.md": "two"})
    assert (tmp_path / "report.md").read_text() == "my edits"
    _write(tmp_path, {"report.md": "two"}, force=True)
    assert (tmp_path / "latency.csv").read_text().endswith("my annotation\n")  # edited: no longer recalib's
    assert (tmp_path / "report.md").read_text() == "two"


@pytest.mark.parametrize("record", ['{"files": ["notes.txt"]}', '{"files": {"../notes.txt": "x"}}', "[]", "{bad"])
def test_a_forged_or_damaged_record_proves_nothing(tmp_path: Path, record: str) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / RECORD).write_text(record)
    _write(tmp_path, {"report.md": "one"})
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_a_folder_held_by_a_run_is_refused_to_another(tmp_path: Path) -> None:
    with ReportFolder(tmp_path / "r", ["report.md"]) as first:
        with pytest.raises(OutputError, match="another recalib run is writing a report into"):
            ReportFolder(tmp_path / "r", ["report.md"])
        first.write({"report.md": "first"})
    _write(tmp_path / "r", {"report.md": "second"})  # once released, the next run may write
    assert (tmp_path / "r" / "report.md").read_text() == "second"


def test_a_folder_made_for_a_run_that_writes_nothing_is_removed_again(tmp_path: Path) -> None:
    with ReportFolder(tmp_path / "new", ["report.md"]):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()
