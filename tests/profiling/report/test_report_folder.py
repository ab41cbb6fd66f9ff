"""A report folder: recalib replaces and deletes only what its seals prove it wrote; one run at a time."""
from __future__ import annotations

import errno
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from process_testing import needs_proc, running
from recalib.errors import OutputError
from recalib.infra.atomic import STAGING_PREFIX
from recalib.profiling.report.folder import RECORD, ReportFolder

ROOT = Path(__file__).resolve().parents[3]


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


def test_a_record_forged_with_the_real_checksum_proves_nothing(tmp_path: Path) -> None:
    """Issue 26, data loss 1: a checksum proves a file unchanged, not that recalib wrote it."""
    thesis = tmp_path / "thesis.txt"
    thesis.write_text("t\n")
    (tmp_path / RECORD).write_text(json.dumps({"files": {"thesis.txt": hashlib.sha256(b"t\n").hexdigest()}}))
    _write(tmp_path, {"report.md": "one"})
    assert thesis.read_text() == "t\n"
    forged_seal = json.loads((tmp_path / RECORD).read_text())["files"]["report.md"]  # a real seal, copied
    (tmp_path / RECORD).write_text(json.dumps({"files": {"report.md": forged_seal, "thesis.txt": forged_seal}}))
    _write(tmp_path, {"report.md": "two"}, force=True)
    assert thesis.read_text() == "t\n"


def test_a_record_copied_from_another_folder_proves_nothing_there(tmp_path: Path) -> None:
    _write(tmp_path / "a", {"report.md": "same"})
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "report.md").write_text("same")
    (tmp_path / "b" / RECORD).write_bytes((tmp_path / "a" / RECORD).read_bytes())
    with pytest.raises(OutputError, match="cannot prove it wrote it"):
        _write(tmp_path / "b", {"report.md": "new"})
    assert (tmp_path / "b" / "report.md").read_text() == "same"


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("make", ["dangling link", "folder", "fifo"])
def test_a_name_the_report_writes_must_be_a_regular_file_or_absent(tmp_path: Path, make: str, force: bool) -> None:
    """Issue 26, data loss 4 (a dangling link replaced without --force), and a folder or FIFO found only late."""
    target = tmp_path / "report.md"
    {"dangling link": lambda: target.symlink_to(tmp_path / "nonexistent"), "folder": target.mkdir,
     "fifo": lambda: os.mkfifo(target)}[make]()
    with pytest.raises(OutputError, match="report.md is a .*not a regular file|report.md is a (dangling|folder|FIFO)"):
        ReportFolder(tmp_path, ["report.md"], force)
    assert os.path.lexists(target) and not target.is_file() and _names(tmp_path) == ["report.md"]
    assert not (tmp_path / "nonexistent").exists()


def test_a_fifo_or_deeply_nested_record_is_read_as_no_proof_without_blocking(tmp_path: Path) -> None:
    (tmp_path / RECORD).write_text("[" * 100_000 + "]" * 100_000)
    (tmp_path / "notes.txt").write_text("mine")
    _write(tmp_path, {"report.md": "one"})  # the record is replaced, nothing else touched
    assert (tmp_path / "notes.txt").read_text() == "mine"
    (tmp_path / RECORD).unlink()
    os.mkfifo(tmp_path / RECORD)
    with pytest.raises(OutputError, match=f"{RECORD} is a FIFO"):
        _write(tmp_path, {"report.md": "two"}, force=True)
    assert (tmp_path / "report.md").read_text() == "one"


_KILLED_MID_WRITE = """
import os, signal, sys
from recalib.profiling.report.folder import ReportFolder
folder = sys.argv[1]
with ReportFolder(folder, ["report.md", "report.json"]) as f:
    f.write({"report.md": "old md", "report.json": "old json"})
real_replace = os.replace
def replace(src, dst):
    if os.path.basename(dst) == "report.json":
        os.kill(os.getpid(), signal.SIGKILL)  # after the record and report.md, before report.json
    real_replace(src, dst)
os.replace = replace
with ReportFolder(folder, ["report.md", "report.json"]) as f:
    f.write({"report.md": "new md", "report.json": "new json"})
"""


@needs_proc
def test_a_run_killed_between_the_record_and_the_files_leaves_proof_of_either_version(tmp_path: Path) -> None:
    """Issue 26, lost proof: SIGKILL after the record moved, before report.json: the rerun is not refused."""
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_MID_WRITE, str(tmp_path)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.wait(timeout=60) == -signal.SIGKILL and not running(proc.pid)
    assert (tmp_path / "report.md").read_text() == "new md" and (tmp_path / "report.json").read_text() == "old json"
    assert any(p.name.startswith(STAGING_PREFIX) for p in tmp_path.iterdir())
    _write(tmp_path, {"report.md": "third", "report.json": "third"})  # no --force needed
    assert _names(tmp_path) == [RECORD, "report.json", "report.md"]  # the dead run's staging folder swept
    assert (tmp_path / "report.json").read_text() == "third"


def test_a_full_disk_while_writing_leaves_every_old_file_untouched(tmp_path: Path, monkeypatch) -> None:
    _write(tmp_path, {"report.md": "old md", "report.json": "old json"})
    real_write = Path.write_bytes

    def full_disk(self: Path, data: bytes) -> int:
        if self.name == "report.json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _write(tmp_path, {"report.md": "new md", "report.json": "new json"})
    monkeypatch.undo()
    assert (tmp_path / "report.md").read_text() == "old md" and (tmp_path / "report.json").read_text() == "old json"
    _write(tmp_path, {"report.md": "next"})  # the record still proves the old files: no --force needed
    assert _names(tmp_path) == [RECORD, "report.md"]
