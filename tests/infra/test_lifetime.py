"""A terminated process cleans up; a worker never outlives its parent (real processes, real signals)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from process_testing import needs_proc, running, wait_for

ROOT = Path(__file__).resolve().parents[2]
pytestmark = needs_proc

# A process that holds a temporary folder until a signal ends it; argv[1] is 'worker' to die with its parent,
# 'watchdog' to do so without the kernel's parent-death signal, 'parent' to start such a worker and wait.
SCRIPT = """
import os, subprocess, sys, time
import recalib.infra.lifetime as lifetime
from recalib.infra.workspace import temporary_folder
role = sys.argv[1]
if role == "parent":
    subprocess.Popen([sys.executable, "-c", sys.argv[2], sys.argv[3], str(os.getpid()), sys.argv[2]])
    time.sleep(120)
if role == "watchdog":
    lifetime._set_parent_death_signal = lambda: None
try:
    with lifetime.exit_on_signals():
        if role != "main":
            lifetime.die_with_parent(int(sys.argv[2]))
        with temporary_folder(role + "-") as folder:
            print(os.getpid(), folder, flush=True)
            time.sleep(120)
except lifetime.Terminated as exc:
    sys.exit(exc.exit_code)
"""


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[str], int, Path]:
    """Run SCRIPT with ``args``; returns the process, the pid and folder of the process holding the folder."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, *args], stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout is not None
    pid, folder = proc.stdout.readline().split()
    return proc, int(pid), Path(folder)


def test_sigterm_unwinds_the_process_and_removes_its_temporary_folder(tmp_path: Path) -> None:
    proc, pid, folder = start(tmp_path, "main")
    assert pid == proc.pid and folder.is_dir()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 128 + signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("role", ["worker", "watchdog"])
def test_a_worker_whose_parent_is_killed_ends_and_cleans_up(tmp_path: Path, role: str) -> None:
    parent, worker, folder = start(tmp_path, "parent", SCRIPT, role)
    assert worker != parent.pid and running(worker) and folder.is_dir()
    parent.send_signal(signal.SIGKILL)  # the parent can clean nothing up
    parent.wait(timeout=30)
    wait_for(lambda: not running(worker), 60, f"worker {worker} to end after its parent was killed")
    assert list(tmp_path.iterdir()) == []  # the worker removed its own folder on the way out


def test_a_worker_started_after_its_parent_died_ends_at_once(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    proc = subprocess.run([sys.executable, "-c", SCRIPT, "worker", str(gone.pid)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)}, timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM and proc.stdout == ""
    assert list(tmp_path.iterdir()) == []
