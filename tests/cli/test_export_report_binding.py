"""An export report is trusted only for the file whose digest it records (issue 26: two silent wrong results)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from cli_testing import SMALL
from process_testing import needs_proc, processes_with, running
from recalib.export.from_file import from_file
from recalib.infra.atomic import STAGING_PREFIX
from recalib.infra.reading import file_sha256
from recalib.spec import parse_spec

ROOT = Path(__file__).resolve().parents[2]


def test_the_report_records_the_digest_of_its_file(exported: dict[str, Path]) -> None:
    report = json.loads(exported["se"].with_suffix(".report.json").read_text())
    assert report["sha256"] == file_sha256(exported["se"])
    assert from_file(parse_spec(str(exported["se"]))).verified.startswith("at export (se.report.json)")


def test_a_report_copied_beside_another_model_is_not_trusted(exported: dict[str, Path], tmp_path: Path) -> None:
    model = tmp_path / "other.onnx"
    shutil.copy(exported["base"], model)
    shutil.copy(exported["se"].with_suffix(".report.json"), model.with_suffix(".report.json"))
    verified = from_file(parse_spec(str(model))).verified
    assert verified.startswith("not checked here") and "describes another file" in verified
    assert "max error" not in verified


_KILLED_BETWEEN_RENAMES = """
import os, signal, sys
from recalib.cli.main import main
real_replace = os.replace
def replace(src, dst):
    if str(dst).endswith("m.report.json"):
        os.kill(os.getpid(), signal.SIGKILL)  # the new m.onnx is in place, the old report not yet replaced
    real_replace(src, dst)
os.replace = replace
main(["export", sys.argv[1], "-o", "m.onnx", "--force"])
"""


@needs_proc
def test_an_export_killed_between_its_renames_leaves_a_report_bench_does_not_trust(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "recalib.cli.main", "export", SMALL, "-o", "m.onnx"], cwd=tmp_path,
                   env=env, check=True, capture_output=True, timeout=300)
    old_report = (tmp_path / "m.report.json").read_text()
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_BETWEEN_RENAMES, f"{SMALL}+se"], cwd=tmp_path, env=env)
    assert proc.wait(timeout=300) == -signal.SIGKILL and not running(proc.pid)
    assert processes_with(_KILLED_BETWEEN_RENAMES[:40]) == []
    assert (tmp_path / "m.report.json").read_text() == old_report  # the old report beside the new model
    assert json.loads(old_report)["sha256"] != file_sha256(tmp_path / "m.onnx")
    assert "describes another file" in from_file(parse_spec(str(tmp_path / "m.onnx"))).verified
    assert {p.name for p in tmp_path.iterdir() if not p.name.startswith(STAGING_PREFIX)} == {"m.onnx", "m.report.json"}
