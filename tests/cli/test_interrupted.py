"""A command killed mid-timing leaves no worker running, no temporary folder, and the previous report intact.

Real processes and signals: SIGTERM is what ``timeout`` and CI cancellation send; SIGKILL allows no
cleanup at all, so the worker must end on its own and the next run must sweep what was left.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cli_testing import SMALL
from process_testing import has_loaded, needs_proc, processes_with, running, wait_for
from recalib.cli.main import main
from recalib.infra.workspace import temporary_folder

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_proc
# Long enough that the worker is still timing when the signal comes: it is stopped long before the end.
TIMING = ["--runtime", "ort-cpu", "--iters", "1000000", "--warmup", "0", "--threads", "1"]


def start(args: list[str], tmpdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    """``recalib ARGS`` in a new process; returns it once its timing worker runs onnxruntime, and the worker."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen([sys.executable, "-m", "recalib.cli.main", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: list[int] = []

    def timing() -> bool:
        workers[:] = processes_with("recalib.deploy._worker", str(tmpdir))
        return bool(workers) and has_loaded(workers[0], "onnxruntime") or proc.poll() is not None

    wait_for(timing, 240, "the timing worker to start")
    assert proc.poll() is None, proc.communicate()[1].decode()
    return proc, workers[0]


def leftovers(tmpdir: Path) -> list[str]:
    return sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("recalib-"))


def test_sigterm_mid_timing_leaves_no_worker_no_temporary_folder_and_the_previous_report(tmp_path: Path) -> None:
    out, tmpdir = tmp_path / "report", tmp_path / "tmp"
    tmpdir.mkdir()
    assert main(["audit", "--sections", "claims", "--papers", "squeeze-excitation", "--quick", "--no-progress",
                 "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    audit, worker = start(["audit", "--quick", "--sections", "latency", "--arch", SMALL, "--block", "se",
                           "--no-optimize", "--no-progress", "-o", str(out), *TIMING], tmpdir)
    audit.send_signal(signal.SIGTERM)
    assert audit.wait(timeout=120) == 128 + signal.SIGTERM
    assert "terminated by SIGTERM" in audit.communicate()[1].decode()
    wait_for(lambda: not running(worker), 60, f"worker {worker} to end")
    assert leftovers(tmpdir) == []
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no staging folder, no half report


def test_a_killed_bench_leaves_no_worker_and_the_next_run_sweeps_its_folders(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench, worker = start(["bench", SMALL, *TIMING], tmp_path)
    bench.send_signal(signal.SIGKILL)  # no cleanup can run in the parent
    bench.wait(timeout=60)
    wait_for(lambda: not running(worker), 60, f"worker {worker} to end after its parent was killed")
    left = leftovers(tmp_path)
    assert any(name.startswith("recalib-bench-") for name in left), left  # SIGKILL: the parent could not clean
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with temporary_folder("next-") as folder:  # what the next recalib run does first
        assert leftovers(tmp_path) == [folder.name]
    assert leftovers(tmp_path) == []
