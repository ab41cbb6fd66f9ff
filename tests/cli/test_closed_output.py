"""Standard output closed under a command, or on a full disk: an exit status, no traceback, and the
files written with -o complete (issue 26: data loss 3 and the BrokenPipe/ENOSPC tracebacks)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_testing import FAST
from process_testing import needs_proc, processes_with

ROOT = Path(__file__).resolve().parents[2]
CLOSED, FULL = 141, 7


def _run(args: list[str], stdout: int | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "recalib.cli.main", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, cwd=cwd, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run with standard output a pipe whose reader has already gone (``| head -0``)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return _run(args, write, cwd)
    finally:
        os.close(write)


@pytest.mark.parametrize("args", [["blocks"], ["doctor"]])
def test_printing_into_a_closed_pipe_exits_141_without_a_traceback(tmp_path: Path, args: list[str]) -> None:
    done = _closed_pipe(args, tmp_path)
    assert done.returncode == CLOSED and "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert "its output was closed" in done.stderr and list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_printing_onto_a_full_disk_exits_7_without_a_traceback(tmp_path: Path) -> None:
    with open("/dev/full", "w") as full:
        done = _run(["blocks"], full.fileno(), tmp_path)
    assert done.returncode == FULL and "Traceback" not in done.stderr
    assert "could not write standard output: No space left on device" in done.stderr


def test_a_closed_standard_output_is_refused_before_any_work(tmp_path: Path) -> None:
    """``recalib blocks >&-`` used to exit 0 having printed nothing."""
    done = subprocess.run([sys.executable, "-m", "recalib.cli.main", "blocks"], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          preexec_fn=lambda: os.close(1))
    assert done.returncode == 2 and "standard output is closed" in done.stderr


@needs_proc
def test_a_result_written_with_o_survives_a_closed_pipe(tmp_path: Path, exported: dict[str, Path]) -> None:
    """Issue 26, data loss 3: ``bench … -o r.json | head -1`` lost r.json to a BrokenPipeError."""
    done = _closed_pipe(["bench", str(exported["base"]), *FAST, "-o", "r.json"], tmp_path)
    assert done.returncode == CLOSED and "Traceback" not in done.stderr, done.stderr
    assert "r.json was written whole" in done.stderr
    result = json.loads((tmp_path / "r.json").read_text())
    assert result and json.dumps(result).count(exported["base"].name) >= 1
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
    assert processes_with("recalib", str(exported["base"])) == []  # no timing worker outlives it
