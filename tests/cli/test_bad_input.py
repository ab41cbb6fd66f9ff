"""Hostile and mistaken input on the command line: a clear error and exit status before any work,
and nothing a user had is touched (issue 17's reproductions, with today's flag names)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import recalib
from cli_testing import SMALL
from recalib.errors import ConfigError
from recalib.profiling.report.folder import ReportFolder
from recalib.cli.main import main

CLAIMS = ["audit", "--sections", "claims", "--papers", "squeeze-excitation", "--quick", "--no-progress"]


@pytest.mark.parametrize("args,message", [
    (["profile", "cifar_resnet20:num_classes=ten"], "option num_classes must be an integer, got the str 'ten'"),
    (["profile", "cifar_resnet20:num_classes=-1"], "num_classes must be a positive integer, got -1"),
    (["profile", "cifar_resnet20:num_classes=1e7"], "must be an integer, got the float 10000000.0"),
    (["bench", "resnet50:stride_in_1x1='false'"], "must be true or false, got the str 'false' (write it without"),
    (["bench", SMALL, "--runtime", "torch-eager@tpu"], "cannot run on device 'tpu'; it runs on cpu, cuda"),
    (["export", SMALL, "-o", "m.onnx", "--tolerance", "-1"], "finite number >= 0 (relative to the largest output), got -1.0"),
    (["export", SMALL, "-o", "m.onnx", "--tolerance", "nan"], "finite number >= 0 (relative to the largest output), got nan"),
    (["bench", "cifar_resnet20", "--batch", "100000000"], "at batch 100000000 and 32x32 needs at least"),
    (["profile", "cifar_resnet20", "--input-size", "100000", "100000"], "needs at least 1.3 TiB"),
    (["audit", "--batch", "100000000", "-o", "report"], "resnet50 at batch 100000000 and 224x224 needs at least"),
])
def test_a_bad_option_is_refused_with_its_reason_before_any_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing written, no report folder made


@pytest.mark.parametrize("stored,message", [
    ("{oops", "the stored spec is not valid JSON"),
    ('"resnet50"', "the stored spec is a JSON str, not an object"),
    ('{"options": {}}', "the stored spec has no valid arch"),
])
def test_a_checkpoint_with_a_damaged_spec_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                           stored: str, message: str) -> None:
    path = tmp_path / "ck.safetensors"
    save_file({"w": torch.zeros(1)}, str(path), metadata={"format": "recalib-checkpoint/2", "recalib_version": "0", "spec": stored})
    assert main(["export", str(path), "-o", str(tmp_path / "m.onnx")]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.safetensors"]


@pytest.fixture(scope="module")
def previous_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A report folder from an earlier (quick, claims-only) audit."""
    out = tmp_path_factory.mktemp("audit") / "report"
    assert main([*CLAIMS, "-o", str(out)]) == 0
    return out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_bad_block_fails_before_the_audit_runs_and_the_previous_report_is_untouched(
        previous_report: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(previous_report)
    assert main([*CLAIMS, "-o", str(previous_report), "--block", "se:reduction=abc"]) == 2
    assert "'se': option reduction must be an integer, got the str 'abc'" in capsys.readouterr().err
    assert _snapshot(previous_report) == before


def test_a_second_audit_into_a_folder_in_use_is_refused_at_once(previous_report: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    before = _snapshot(previous_report)
    with ReportFolder(previous_report, []):  # another audit holds the folder
        assert main([*CLAIMS, "-o", str(previous_report)]) == 2
    assert "another recalib run is writing a report into" in capsys.readouterr().err
    assert _snapshot(previous_report) == before


def test_files_recalib_did_not_write_are_never_deleted_and_replaced_only_with_force(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's first reproduction: a report.json listing a thesis used to delete it."""
    folder = tmp_path / "F"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps({"files": ["thesis.tex", "results.csv"]}))
    (folder / "thesis.tex").write_text("chapter 1")
    (folder / "results.csv").write_text("a,b\n")
    assert main([*CLAIMS, "-o", str(folder)]) == 2
    assert "holds report.json, which this report would replace" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["report.json", "results.csv", "thesis.tex"]
    assert main([*CLAIMS, "-o", str(folder), "--force"]) == 0
    assert (folder / "thesis.tex").read_text() == "chapter 1" and (folder / "results.csv").read_text() == "a,b\n"
    assert json.loads((folder / "report.json").read_text())["title"] == "recalib audit"


def test_an_output_name_that_is_not_utf8_is_refused_before_any_work(tmp_path: Path, monkeypatch,
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26: it failed in onnx's checker after the export work."""
    monkeypatch.chdir(tmp_path)
    name = b"\xff.onnx".decode("utf-8", "surrogateescape")
    with pytest.raises(SystemExit) as caught:
        main(["export", SMALL, "-o", name])
    assert caught.value.code == 2 and "is not valid UTF-8" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_deleted_working_directory_is_named_as_the_problem(tmp_path: Path) -> None:
    """Issue 26: torch's own oneMKL error surfaced as recalib's exit-2 message."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = ("import os, sys\nos.chdir(sys.argv[1])\nos.rmdir(sys.argv[1])\n"
              "from recalib.cli.main import main\nsys.exit(main(['blocks']))\n")
    done = subprocess.run([sys.executable, "-c", script, str(gone)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert done.returncode == 2 and "the working directory no longer exists" in done.stderr
    assert done.stdout == "" and not gone.exists()


@pytest.mark.parametrize("args,message", [
    (["bench", SMALL, "--threads", "100000"], "more than the .* core\\(s\\) this process may use"),
    (["bench", SMALL, "--batch", "1,2,1"], "batch size\\(s\\) 1 given twice"),
    (["bench", SMALL, "--iters", "1000000000000"], "timed rounds need .* for their timings alone"),
    (["bench", SMALL, "--seed", str(2**64)], "a seed is an integer from 0 to 2\\*\\*64 - 1"),
    (["export", SMALL, "--seed", "-1", "-o", "m.onnx"], "a seed is an integer from 0 to 2\\*\\*64 - 1"),
    (["export", SMALL, "--opset", "0", "-o", "m.onnx"], "opset 0 is not supported"),
    (["profile", "cifar_resnet20:input_size=(32,32)", "--input-size", "16", "16"], "give the size once"),
])
def test_options_out_of_bounds_are_refused_before_any_work(tmp_path: Path, monkeypatch, args: list[str],
                                                          message: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26: each of these was accepted, or failed late (an OverflowError, a dead worker, a silent size)."""
    monkeypatch.chdir(tmp_path)
    try:
        status = main(args)
    except SystemExit as exc:
        status = int(exc.code or 0)
    assert status in (2, 5)
    assert re.search(message, capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_a_record_forged_with_a_files_real_checksum_does_not_make_the_audit_delete_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26, data loss 1: ``{"files": {"thesis.txt": "<its sha256>"}}`` made the audit delete thesis.txt."""
    folder = tmp_path / "rep"
    folder.mkdir()
    (folder / "thesis.txt").write_text("t\n")
    (folder / ".recalib-report.json").write_text(json.dumps({"files": {"thesis.txt": hashlib.sha256(b"t\n").hexdigest()}}))
    assert main([*CLAIMS, "-o", str(folder)]) == 0
    assert (folder / "thesis.txt").read_text() == "t\n"
    assert {"report.md", "report.json", "thesis.txt"} <= {p.name for p in folder.iterdir()}
    assert not [p for p in folder.iterdir() if p.name.startswith(".recalib-staging-")]


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_a_dangling_link_in_the_report_folder_is_refused_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], force: list[str]) -> None:
    """Issue 26, data loss 4: ``ln -s /nonexistent rep/report.md`` was replaced without --force."""
    folder = tmp_path / "rep"
    folder.mkdir()
    (folder / "report.md").symlink_to(tmp_path / "nonexistent")
    assert main([*CLAIMS, "-o", str(folder), *force]) == 2
    assert "report.md is a dangling symbolic link" in capsys.readouterr().err
    assert [p.name for p in folder.iterdir()] == ["report.md"] and (folder / "report.md").is_symlink()
    assert not (tmp_path / "nonexistent").exists()


def test_a_libraries_error_is_quoted_by_its_first_line_only(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26: torch's 2.2 KB C++ backtrace for num_classes=1e20 landed inside the message."""
    assert main(["profile", f"cifar_resnet20:num_classes={10**20}"]) == 2
    err = capsys.readouterr().err
    assert "Overflow when unpacking long long" in err and "frame #" not in err and len(err) < 600


def test_a_set_option_is_described_as_a_set_of_its_items(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26: "option stages must be frozenset or none, got the frozenset frozenset({'a'})"."""
    with pytest.raises(ConfigError, match=r"option stages must be a set of integers, e.g. \{1,2\} or none"):
        recalib.create_model(SMALL, "se", stages=frozenset({"a"}))
