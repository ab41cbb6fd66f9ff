"""``recalib export``: exit codes, messages, and no file left behind on failure."""
from __future__ import annotations

import json

import pytest
import torch

import recalib
from recalib.export.prepare import build
from recalib.cli.main import main
from recalib.spec import parse_spec


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "mnist.safetensors"
    model = build(parse_spec("cc_vgg_mnist+cc-static-scalar"), label="trained").module
    with torch.no_grad():
        for gate in (m for m in model.modules() if hasattr(m, "theta")):
            gate.theta.normal_()  # a trained gate, not the initial one
    return recalib.save_checkpoint(model, path)


def test_export_an_architecture_then_refuse_to_overwrite(tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", "cc_vgg_mnist", "--block", "se", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "from PyTorch float64 at 1x1x28x28" in printed and "tolerance 1e-04" in printed
    assert main(["export", "cc_vgg_mnist", "--block", "se", "-o", str(out)]) == 2  # a refused output: usage
    assert "already exists; pass force=True (--force)" in capsys.readouterr().err
    assert main(["export", "cc_vgg_mnist", "-o", str(out), "--force", "--fixed-batch", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["input_dims"] == [2, 1, 28, 28] and report["source"]["recalib_spec"]["block"] is None
    weights = report["source"]["weights"]
    assert weights["seed"] == 0 and "random inputs" in weights["batchnorm_statistics"]


def test_export_a_checkpoint_folds_its_scalar_gates(checkpoint, tmp_path, capsys):
    out = tmp_path / "ckpt.onnx"
    assert main(["export", str(checkpoint), "-o", str(out), "--opset", "20"]) == 0
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["opset"] == 20 and "Mul" not in report["op_histogram"]
    assert report["source"]["weights"] == {"from": "checkpoint", "path": str(checkpoint)}  # not recalibrated
    assert all("no node left" in action for action in report["folding"])


@pytest.mark.parametrize("argv,code,message", [
    (["nope.safetensors"], 2, "nope.safetensors: no such file"),
    (["no_such_arch"], 2, "unknown model 'no_such_arch'"),
    (["cc_vgg_mnist", "--opset", "17"], 5, "opset 17 is not supported"),
    (["cc_vgg_mnist", "--fixed-batch", "0"], 2, "a fixed batch must be a positive integer"),
    (["cc_vgg_mnist", "--tolerance", "nan"], 2, "tolerance must be a finite number >= 0"),
])
def test_bad_requests_exit_with_a_clear_error_and_no_file(argv, code, message, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", *argv, "-o", str(out)]) == code
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_fixes_its_block(checkpoint, tmp_path, capsys):
    assert main(["export", str(checkpoint), "--block", "se", "-o", str(tmp_path / "m.onnx")]) == 2
    assert "saved with block 'cc-static-scalar': a checkpoint fixes its block; drop --block se" in capsys.readouterr().err


def test_a_checkpoint_at_another_input_size_is_a_shape_error(checkpoint, tmp_path, capsys):
    out = tmp_path / "m.onnx"
    assert main(["export", str(checkpoint), "--input-size", "30", "30", "-o", str(out)]) == 2
    assert "holds a model built for 28x28 input, not 30x30" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_corrupt_checkpoint_exits_with_a_checkpoint_error(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    assert main(["export", str(bad), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "not a readable safetensors checkpoint" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors"]


def test_target_names_the_runtime_the_export_is_optimised_for(tmp_path, capsys):
    out = tmp_path / "ov.onnx"
    assert main(["export", "cc_vgg_mnist+cc-reduced", "--target", "openvino", "-o", str(out)]) == 0
    assert "optimized for openvino" in capsys.readouterr().out
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["target"] == "openvino" and "MatMul" not in report["op_histogram"]
    with pytest.raises(SystemExit) as info:
        main(["export", "cc_vgg_mnist", "--target", "openvino", "--no-optimize", "-o", str(tmp_path / "x.onnx")])
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
