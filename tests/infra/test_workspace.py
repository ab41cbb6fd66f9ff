"""Claimed work folders: removed when their run ends however it ends, never while a run uses them."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from process_testing import needs_proc, running
from recalib.infra.workspace import CLAIM, ClaimedFolder, sweep, temporary_folder

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tmpdir_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The system temporary folder, as this process and its children see it, is ``tmp_path``."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_only_claimed_folders_of_ended_runs_are_swept(tmp_path: Path) -> None:
    ended, live = ClaimedFolder(tmp_path, "recalib-a-"), ClaimedFolder(tmp_path, "recalib-b-")
    ended._lock.release()  # as the kernel does when the claiming process dies
    unclaimed = tmp_path / "recalib-report"  # e.g. a user's report folder in /tmp: no claim, never touched
    unclaimed.mkdir()
    other = ClaimedFolder(tmp_path, ".recalib-staging-")
    other._lock.release()
    assert sweep(tmp_path, "recalib-") == [ended.path]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.path.name, "recalib-report", other.path.name])
    claim = json.loads((live.path / CLAIM).read_text())
    assert claim["pid"] == os.getpid() and claim["tool"] == "recalib"
    live.remove()
    assert not live.path.exists()


def test_a_temporary_folder_is_removed_after_an_error(tmpdir_here: Path) -> None:
    with pytest.raises(RuntimeError):
        with temporary_folder("test-") as folder:
            (folder / "big.onnx").write_bytes(b"x" * 100)
            assert folder.parent == tmpdir_here and folder.name.startswith("recalib-test-")
            raise RuntimeError("the work failed")
    assert list(tmpdir_here.iterdir()) == []


def test_the_folder_of_a_killed_process_is_swept_by_the_next_run(tmpdir_here: Path) -> None:
    script = ("import sys, time\nfrom recalib.infra.workspace import temporary_folder\n"
              "with temporary_folder('victim-') as f:\n    print(f, flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    victim = Path(proc.stdout.readline().strip())
    with temporary_folder("next-") as mine:  # the victim is alive: its folder stays
        assert sorted(p.name for p in tmpdir_here.iterdir()) == sorted([victim.name, mine.name])
    proc.send_signal(signal.SIGKILL)  # no cleanup can run
    proc.wait(timeout=30)
    assert victim.is_dir()
    with temporary_folder("next-") as mine:
        assert [p.name for p in tmpdir_here.iterdir()] == [mine.name]


@needs_proc
def test_a_copy_of_a_dead_runs_folder_is_the_users_and_never_swept(tmpdir_here: Path) -> None:
    """Issue 26, data loss 5: a user keeps a run's exports by copying its work folder (claim and all) or
    renaming it; the next run swept both, as if the claim proved they were recalib's."""
    script = ("import time\nfrom recalib.infra.workspace import temporary_folder\n"
              "with temporary_folder('bench-') as f:\n    (f / 'model.onnx').write_text('onnx')\n"
              "    print(f, flush=True)\n    time.sleep(60)\n")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None
    dead = Path(proc.stdout.readline().strip())
    kept = tmpdir_here / "recalib-bench-kept"
    shutil.copytree(dead, kept)  # the user's copy, taken while the run worked
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert not running(proc.pid)
    renamed = tmpdir_here / "recalib-bench-renamed"
    shutil.copytree(dead, tmpdir_here / "recalib-x-moved")
    (tmpdir_here / "recalib-x-moved").rename(renamed)
    foreign = ClaimedFolder(tmpdir_here, "recalib-other-host-")
    claim = json.loads((foreign.path / CLAIM).read_text())
    (foreign.path / CLAIM).write_text(json.dumps({**claim, "host": "another-host"}))
    foreign._lock.release()
    assert sweep(tmpdir_here, "recalib-") == [dead]  # only the folder the dead run made itself
    assert sorted(p.name for p in tmpdir_here.iterdir()) == sorted([kept.name, renamed.name, foreign.path.name])
    assert (kept / "model.onnx").read_text() == "onnx" and (renamed / "model.onnx").read_text() == "onnx"
