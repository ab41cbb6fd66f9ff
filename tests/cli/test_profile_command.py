"""``recalib profile``: counts of the model a spec names, as text, JSON, or a JSON file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from recalib.cli.main import main


def _profile(capsys: pytest.CaptureFixture[str], *argv: str) -> dict:
    assert main(["profile", *argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_spec_options_reach_the_counted_model(capsys: pytest.CaptureFixture[str]) -> None:
    both = _profile(capsys, "cifar_resnet20+ms-sar:scales=(1,2)")
    default = _profile(capsys, "cifar_resnet20", "--block", "ms-sar")
    assert (both["block"], both["options"]) == ("ms-sar", {"scales": [1, 2]})
    assert 0 < both["recalibration"]["params"] != default["recalibration"]["params"]


def test_stride_in_1x1_false_is_counted_as_the_torchvision_layout(capsys: pytest.CaptureFixture[str]) -> None:
    """The stride in the 3x3 conv leaves the first 1x1 conv at full resolution: more multiply-adds."""
    torchvision = _profile(capsys, "resnet50:stride_in_1x1=false", "--input-size", "64", "64")
    caffe = _profile(capsys, "resnet50:stride_in_1x1=true", "--input-size", "64", "64")
    assert torchvision["options"]["stride_in_1x1"] is False and caffe["options"]["stride_in_1x1"] is True
    assert torchvision["totals"]["mac"] > caffe["totals"]["mac"] and torchvision["params"] == caffe["params"]


def test_the_profile_is_written_to_a_file_on_request(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "profile.json"
    assert main(["profile", "cc_vgg_mnist+se", "-o", str(out)]) == 0
    assert "recalibration blocks" in capsys.readouterr().out
    assert json.loads(out.read_text())["block"] == "se"
    assert main(["profile", "cc_vgg_mnist", "-o", str(out)]) == 2
    assert json.loads(out.read_text())["block"] == "se"  # not replaced without --force


def test_a_convention_and_the_crosscheck_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    argv = ["profile", "cifar_resnet20+se:reduction=4", "--convention", "mac-all", "--crosscheck", "-o", str(path)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "recalibration blocks (9;" in text and "unsupported ops: none" in text and "agree" in text
    data = json.loads(path.read_text())
    assert data["flop_convention"] == "mac-all" and len(data["blocks"]) == 9 and data["options"] == {"reduction": 4}
    assert data["crosscheck"]["agree"] and data["unsupported_ops"] == {}


def test_bad_options_exit_with_the_usage_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "cifar_resnet20+se:reduction"]) == 2
    assert main(["profile", "cifar_resnet20", "--convention", "gflops"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
