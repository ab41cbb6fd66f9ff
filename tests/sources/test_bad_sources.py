"""Every mistake with a model source: our error, naming what to fix, exit status 2, and nothing written."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from recalib.cli.main import main
from source_testing import TwoInputs, save_program, write_nets


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the user's factories, a program of two inputs and a file that is no program."""
    folder = tmp_path_factory.mktemp("user")
    write_nets(folder)
    x = torch.randn(1, 3, 8, 8)
    torch.export.save(torch.export.export(TwoInputs(), (x, x)), str(folder / "two.pt2"))
    torch.save({"weights": torch.zeros(2)}, str(folder / "pickled.pt2"))
    save_program(folder / "tiny.pt2")
    return folder


CASES = [
    (["export", "{u}/missing.py:tiny"], "missing.py: no such file"),
    (["export", "{u}/nets.py:tinny"], "has no attribute 'tinny'; its functions and classes: Flat, Tiny, broken"),
    (["export", "{u}/nets.py:broken"], "the factory {u}/nets.py:broken raised ValueError: no weights at /models/w.pt;"),
    (["profile", "{u}/nets.py:not_a_module"], "returned a dict, not a torch.nn.Module; make it return the model"),
    (["bench", "{u}/nets.py:tiny:depth=3"], "does not take option(s) depth; valid options: classes, width"),
    (["export", "{u}/nets.py:flat", "--input-size", "9", "9"], "fails on a 1x3x9x9 input (RuntimeError:"),
    (["profile", "{u}/nets.py:undeclared"], "declares no input size (model.default_input_size = (C, H, W)"),
    (["export", "{u}/nets.py:tiny", "--block", "se"], "--block se needs a plain architecture, but"),
    (["export", "{u}/pickled.pt2"], "is not an ExportedProgram that torch.export.load reads safely"),
    (["bench", "{u}/two.pt2"], "takes 2 input(s) (shape (1, 3, 8, 8), shape (1, 3, 8, 8)); recalib measures programs"),
    (["export", "{u}/tiny.pt2", "--input-size", "16", "16"], "was exported for 8x8 input, not 16x16; drop --input-size"),
    (["export", "no_such_package_here:net"], "no Python module named 'no_such_package_here'"),
]


@pytest.mark.parametrize("args,message", CASES, ids=[" ".join(a[:2]).rsplit("/", 1)[-1] for a, _ in CASES])
def test_a_bad_source_is_refused_with_what_to_fix_and_nothing_is_written(
        user: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        args: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in user.iterdir())
    args = [a.format(u=user) for a in args] + (["-o", "m.onnx"] if args[0] == "export" else [])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message.format(u=user) in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [] and sorted(p.name for p in user.iterdir()) == before


def test_an_export_over_the_factorys_own_file_is_refused(user: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = (user / "nets.py").read_text()
    assert main(["export", f"{user}/nets.py:tiny", "-o", str(user / "nets.py"), "--force"]) == 2
    assert "nets.py" in capsys.readouterr().err and (user / "nets.py").read_text() == source


def test_an_onnx_file_is_not_exported_again_and_nothing_is_written(
        user: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "m.onnx"
    assert main(["export", f"{user}/nets.py:tiny", "-o", str(source)]) == 0
    capsys.readouterr()
    assert main(["export", str(source), "-o", str(tmp_path / "again.onnx")]) == 2
    assert "is an exported onnx file already: export makes ONNX from PyTorch models" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.report.json"]
