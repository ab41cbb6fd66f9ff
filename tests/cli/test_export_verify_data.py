"""``recalib export --verify-data``: decisions on labelled data in the report; bad data refused before any work."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cli_testing import SMALL
from recalib.deploy.availability import unavailable_reason
from recalib.cli.main import main


def npz(tmp_path, **arrays) -> str:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return str(path)


def test_verify_on_the_digits_prints_each_runtime_decisions(tmp_path, capsys) -> None:
    runtimes = "ort-cpu" if unavailable_reason("openvino-cpu") else "ort-cpu,openvino-cpu"
    out = tmp_path / "m.onnx"
    assert main(["export", SMALL, "-o", str(out), "--verify-data", "digits", "--runtime", runtimes]) == 0
    printed = capsys.readouterr().out
    assert "verified on digits test split (449 images, seed 0, 28x28)" in printed
    for runtime in runtimes.split(","):
        assert f"parity: m.onnx on {runtime}: " in printed and "at 449x1x28x28" in printed
        assert f"agreement: {runtime} on digits test split" in printed and "top-1 agreement 449/449" in printed
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert [a["runtime"] for a in report["agreement"]] == runtimes.split(",")


def test_verify_on_an_npz_file(tmp_path, capsys) -> None:
    rng = np.random.default_rng(0)
    data = npz(tmp_path, inputs=rng.standard_normal((6, 1, 28, 28)), labels=rng.integers(0, 10, 6))
    assert main(["export", SMALL, "-o", str(tmp_path / "m.onnx"), "--verify-data", data, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["verified_on"] == f"{data} (6 images)" and report["agreement"][0]["samples"] == 6


@pytest.mark.parametrize("arrays, message", [
    (dict(inputs=np.zeros((4, 3, 28, 28)), labels=np.zeros(4, int)), "have 3 channels, but the model takes 1"),
    (dict(inputs=np.zeros((4, 1, 28, 28))), "has no array 'labels'"),
    (dict(inputs=np.zeros((4, 1, 28, 28)), labels=np.full(4, 10)), "label 10 \\(sample 0\\) is out of range"),
    (dict(inputs=np.full((4, 1, 28, 28), np.nan), labels=np.zeros(4, int)), "4 inputs hold NaN"),
])
def test_bad_data_is_a_usage_error_and_nothing_is_written(tmp_path, capsys, arrays, message) -> None:
    out = tmp_path / "out" / "m.onnx"
    out.parent.mkdir()
    assert main(["export", SMALL, "-o", str(out), "--verify-data", npz(tmp_path, **arrays)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recalib export: error: ") and re.search(message, err)
    assert "Traceback" not in err and list(out.parent.iterdir()) == []


def test_a_torch_runtime_cannot_verify_an_exported_file(tmp_path, capsys) -> None:
    assert main(["export", SMALL, "-o", str(tmp_path / "m.onnx"), "--runtime", "torch-eager"]) == 2
    assert "--runtime torch-eager runs PyTorch models" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
