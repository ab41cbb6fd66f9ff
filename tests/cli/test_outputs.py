"""What commands write: never over an input, never over a file without --force, exit 2 for every refusal,
and of two exports racing to one path exactly one wins, with its model and report paired."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

import recalib
from cli_testing import SMALL
from recalib.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    return recalib.save_checkpoint(recalib.create_model(SMALL), tmp_path / "ck.safetensors")


@pytest.mark.parametrize("command", [
    ["export", "{ck}", "-o", "{ck}", "--force"],
    ["export", "{ck}", "-o", "{link}", "--force"],
    ["bench", "{ck}", "--runtime", "torch-eager", "-o", "{ck}", "--force"],
    ["profile", "{ck}", "-o", "{ck}", "--force"],
])
def test_an_input_is_never_overwritten_even_with_force(checkpoint: Path, tmp_path: Path, command: list[str],
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    link = tmp_path / "same.onnx"
    link.hardlink_to(checkpoint)
    before = checkpoint.read_bytes()
    args = [a.format(ck=checkpoint, link=link) for a in command]
    assert main(args) == 2
    assert "is an input of this run" in capsys.readouterr().err
    assert checkpoint.read_bytes() == before and recalib.load_checkpoint(checkpoint) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.safetensors", "same.onnx"]


@pytest.mark.parametrize("command", [["export", SMALL], ["bench", SMALL, "--runtime", "torch-eager"],
                                     ["profile", SMALL]])
@pytest.mark.parametrize("output,message", [
    ("", "the path is empty"),
    (".", "is a folder, not a file"),
    ("missing/out.json", "the folder missing does not exist"),
    ("taken.json", "already exists; pass force=True (--force)"),
])
def test_every_refused_output_exits_2_before_any_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], command: list[str],
                                                      output: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.json").write_text("mine")
    assert exit_status([*command, "-o", output]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken.json"]
    assert (tmp_path / "taken.json").read_text() == "mine"


def exit_status(args: list[str]) -> int:
    """``main``'s status, argparse's own usage errors (which exit) included."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


def test_of_two_exports_racing_to_one_path_exactly_one_wins_whole(tmp_path: Path) -> None:
    """Both start on an empty folder; the model file and its report always come from the same run."""
    (tmp_path / "out").mkdir()
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "out" / "m.onnx"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path / "tmp")}
    runs = [subprocess.Popen([sys.executable, "-m", "recalib.cli.main", "export", spec, "-o", str(out)],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for spec in (SMALL, f"{SMALL}+se")]
    results = [(run.wait(timeout=300), run.communicate()[1]) for run in runs]
    assert sorted(code for code, _ in results) == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "already exists" in loser or "appeared while this run was working" in loser
    report = json.loads(out.with_suffix(".report.json").read_text())
    ops = {node.op_type for node in onnx.load(str(out)).graph.node}
    assert ("Sigmoid" in ops) == (report["source"]["recalib_spec"]["block"] == "se")
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.onnx", "m.report.json"]  # no staging left over


@pytest.mark.parametrize("command", [["export", SMALL], ["bench", SMALL, "--runtime", "torch-eager"],
                                     ["profile", SMALL]])
@pytest.mark.parametrize("kind", ["link to /dev/null", "fifo", "dangling link"])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_an_output_that_is_not_a_regular_file_is_refused_even_with_force(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], command: list[str],
        kind: str, force: list[str]) -> None:
    """Issue 26, data loss 2 and 4: a device node, FIFO or dangling link is never replaced by a regular file."""
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "out"
    {"link to /dev/null": lambda: target.symlink_to("/dev/null"), "fifo": lambda: os.mkfifo(target),
     "dangling link": lambda: target.symlink_to(tmp_path / "nowhere")}[kind]()
    assert exit_status([*command, "-o", "out", *force]) == 2
    assert "not a regular file" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and not target.is_file()
    assert os.path.islink(target) == (kind != "fifo") and not (tmp_path / "nowhere").exists()
    assert Path("/dev/null").is_char_device()
