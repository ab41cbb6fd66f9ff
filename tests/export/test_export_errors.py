"""Bad requests fail clearly, before work where possible, and never leave a file behind."""
from __future__ import annotations

import time

import onnx
import pytest
import torch
from onnx import TensorProto, helper
from torch import nn

from recalib import export
import recalib
from recalib.export.onnx_export import to_onnx  # imported here, so the timing below measures the check, not the import
from recalib.export.options import ExportOptions
from recalib.export.prepare import build
from recalib.export.verify import _check_declared, check_structure
from recalib.errors import ConfigError, ExportError, OutputError, ShapeError, VerificationError


def _small() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()).eval()


def _leftovers(folder) -> list:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("opset", [17, 9, 99])
def test_unsupported_opset_is_refused_before_any_work(opset, tmp_path):
    start = time.perf_counter()
    with pytest.raises(ExportError, match=f"opset {opset} is not supported"):
        to_onnx(_small(), (3, 8, 8), tmp_path / "m.onnx", ExportOptions(opset=opset))
    assert time.perf_counter() - start < 1.0 and _leftovers(tmp_path) == []


def test_existing_file_is_kept_without_force_and_replaced_with_it(tmp_path):
    path = tmp_path / "m.onnx"
    path.write_text("precious")
    with pytest.raises(OutputError, match=f"{path} already exists.*force"):
        export.to_onnx(_small(), (3, 8, 8), path)
    assert path.read_text() == "precious"
    export.to_onnx(_small(), (3, 8, 8), path, ExportOptions(force=True))
    assert path.stat().st_size > 100 and path.with_suffix(".report.json").exists()


@pytest.mark.parametrize("where", ["missing/m.onnx", "afile/m.onnx", "adir"])
def test_unwritable_output_path_is_refused(where, tmp_path):
    (tmp_path / "afile").write_text("")
    (tmp_path / "adir").mkdir()
    with pytest.raises(OutputError, match="does not exist|is a folder, not a file|not writable"):
        export.to_onnx(_small(), (3, 8, 8), tmp_path / where)
    assert _leftovers(tmp_path) == ["adir", "afile"] and _leftovers(tmp_path / "adir") == []


class LiesUnderExport(nn.Module):
    """Computes something else while being exported: parity must catch it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1 if torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export() else x


def test_parity_failure_raises_and_deletes_the_output(tmp_path):
    with pytest.raises(VerificationError, match="the output was not written.*further from the float64 truth "
                                                "than float32 PyTorch is"):
        export.to_onnx(LiesUnderExport(), (3, 8, 8), tmp_path / "m.onnx")
    assert _leftovers(tmp_path) == []


class BatchOfTwo(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2 if x.shape[0] == 2 else x  # torch.export specialises the batch to 2


def test_a_batch_that_torch_export_specialises_is_an_error(tmp_path):
    with pytest.raises(ExportError, match=r"input is \[2, 3, 4, 4\].*specialised"):
        export.to_onnx(BatchOfTwo(), (3, 4, 4), tmp_path / "m.onnx")
    assert _leftovers(tmp_path) == []


def test_a_model_that_fails_on_the_input_shape_gives_a_shape_error(tmp_path):
    with pytest.raises(ShapeError, match="fails on a 1x3x4x4 input"):
        export.to_onnx(nn.Conv2d(5, 5, 1), (3, 4, 4), tmp_path / "m.onnx")
    assert _leftovers(tmp_path) == []


def test_an_unfolded_model_that_fails_on_the_input_shape_gives_a_shape_error(tmp_path):
    """Without the fold's trace, the exporter meets the bad shape first; the error still says what is wrong."""
    with pytest.raises(ShapeError, match="fails on a 2x3x4x4 input"):
        export.to_onnx(nn.Conv2d(5, 5, 1), (3, 4, 4), tmp_path / "m.onnx", ExportOptions(fold=False))
    assert _leftovers(tmp_path) == []


def test_a_shape_whose_batch_contradicts_the_fixed_batch_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"has batch 2, but the export is for fixed batch 4"):
        to_onnx(_small(), (2, 3, 8, 8), tmp_path / "m.onnx", ExportOptions(fixed_batch=4))
    with pytest.raises(ConfigError, match="a fixed batch must be a positive integer, got 0"):
        ExportOptions(fixed_batch=0)
    assert _leftovers(tmp_path) == []


def test_declared_dims_check_accepts_only_the_declared_dims():
    graph = helper.make_graph([helper.make_node("Relu", ["input"], ["y"])], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, [2, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3, 8, 8])])
    with pytest.raises(ExportError, match="specialised"):
        _check_declared(helper.make_model(graph), ["batch", 3, 8, 8])
    _check_declared(helper.make_model(graph), [2, 3, 8, 8])


def test_strict_trt_turns_lint_findings_into_an_error(tmp_path):
    report = export.to_onnx(_small(), (3, 8, 8), tmp_path / "ok.onnx", ExportOptions(opset=21))
    assert [f.rule for f in report.trt_findings] == ["opset"]
    with pytest.raises(ExportError, match="strict-trt.*opset 21"):
        export.to_onnx(_small(), (3, 8, 8), tmp_path / "strict.onnx", ExportOptions(opset=21, strict_trt=True))
    assert not (tmp_path / "strict.onnx").exists()


def test_block_shape_errors_surface_as_recalib_errors(host, tmp_path):
    with pytest.raises(ShapeError, match="13x13"):
        export.to_onnx(host("cc-static"), (3, 15, 15), tmp_path / "m.onnx")
    assert _leftovers(tmp_path) == []


def _save_model(tmp_path, node, opset_imports):
    graph = helper.make_graph([node], "g",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])])
    path = tmp_path / "g.onnx"
    onnx.save(helper.make_model(graph, opset_imports=opset_imports), str(path))
    return path


def test_a_substituted_opset_is_detected(tmp_path):
    path = _save_model(tmp_path, helper.make_node("Relu", ["input"], ["y"]), [helper.make_opsetid("", 18)])
    with pytest.raises(ExportError, match="opset 17 was requested but the exporter produced opset 18"):
        check_structure(path, 17, ["batch", 3])
    check_structure(path, 18, ["batch", 3])


def test_ops_outside_the_default_domain_are_refused(tmp_path):
    node = helper.make_node("FastGelu", ["input"], ["y"], domain="com.microsoft")
    path = _save_model(tmp_path, node, [helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)])
    with pytest.raises(ExportError, match="com.microsoft::FastGelu"):
        check_structure(path, 18, ["batch", 3])


@pytest.mark.parametrize("shape,message", [
    (torch.randn(1, 3, 8, 8, requires_grad=True), r"not a tensor of shape \(1, 3, 8, 8\); .* tuple\(x.shape\)"),
    (torch.tensor([3, 8, 8]), r"not a tensor of shape \(3,\)"),
    ((3, 8.5, 8), r"must hold whole numbers, got \(3, 8.5, 8\)"),
    ((3, True, 8), "must hold whole numbers"),
    ("3x8x8", "must be a shape such as"),
])
def test_an_input_shape_that_is_not_whole_numbers_is_refused_not_truncated(tmp_path, shape, message):
    with pytest.raises(ConfigError, match=message):
        to_onnx(_small(), shape, tmp_path / "m.onnx")
    assert _leftovers(tmp_path) == []


def test_a_float64_model_is_refused_as_such_not_as_a_shape_problem(tmp_path):
    with pytest.raises(ConfigError, match=r"0.weight is torch.float64: exports are made from float32 models; "
                                          r"call model.float\(\)"):
        to_onnx(_small().double(), (3, 8, 8), tmp_path / "m.onnx")
    assert _leftovers(tmp_path) == []


def test_nan_weights_are_refused_before_the_export_not_blamed_on_rounding(tmp_path):
    model = _small()
    with torch.no_grad():
        model[0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(ConfigError, match=r"0.weight holds 1 NaN or infinite value\(s\) of 108"):
        to_onnx(model, (3, 8, 8), tmp_path / "m.onnx")
    checkpoint = recalib.create_model("cc_vgg_mnist")
    with torch.no_grad():
        next(checkpoint.parameters()).fill_(float("inf"))
    path = recalib.save_checkpoint(checkpoint, tmp_path / "diverged.safetensors")
    with pytest.raises(ConfigError, match="NaN or infinite.*diverged training run"):
        build(recalib.parse_spec(str(path)))  # bench and export of the checkpoint stop here, before any work
    assert _leftovers(tmp_path) == ["diverged.safetensors"]
