"""``optimize_file``: the exact rewrites as an ONNX-to-ONNX pass on graphs from any exporter, verified
against the input graph; candidates it cannot rewrite are left as they are and reported."""
from __future__ import annotations

import copy
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnxscript import ir
from torch import nn

from export_helpers import Host, ort_ops, randomize, reorders
from graph_testing import gated_graph, save, sigmoid_as_tanh
from recalib.blocks import create_block
from recalib.errors import ConfigError, OutputError, VerificationError
from recalib.export import optimize as optimizing
from recalib.export.graph import truth as graph_truth
from recalib.export.graph.truth import GraphTruth
from recalib.export.onnx_export import to_onnx
from recalib.export.optimize_file import optimize_file
from recalib.export.options import ExportOptions, OptimizeOptions
from recalib.export.parity import Truth
from recalib.export.verify import run_onnx

SHAPE_CHAIN = {"Shape", "Concat", "Slice", "Gather", "Unsqueeze"}


def _ops(path: Path) -> Counter:
    return Counter(n.op_type for n in onnx.load(str(path)).graph.node)


def _scales(path: Path) -> list[float]:
    model = onnx.load(str(path))
    (resize,) = [n for n in model.graph.node if n.op_type == "Resize"]
    (constant,) = [n for n in model.graph.node if n.output[0] == resize.input[2]]
    return onnx.numpy_helper.to_array(constant.attribute[0].t).tolist()


def _same_outputs(source: Path, output: Path, shape: tuple[int, ...]) -> None:
    """OUT computes IN's function: both run on onnxruntime on one fresh input."""
    x = np.random.default_rng(7).standard_normal(shape).astype(np.float32)
    expected, got = run_onnx(source, x)[0], run_onnx(output, x)[0]
    assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max()


@pytest.mark.parametrize("sizes", ["shape-concat", "slice-concat", "gather-unsqueeze", "constant"])
def test_another_exporters_gates_are_rewritten_and_verified(sizes: str, tmp_path: Path) -> None:
    batch = 2 if sizes == "constant" else "N"
    source = save(gated_graph(sizes, batch=batch), tmp_path / "in.onnx")
    report = optimize_file(source, tmp_path / "out.onnx", OptimizeOptions(seed=0))
    ops = _ops(tmp_path / "out.onnx")
    assert ops["GlobalAveragePool"] == 1 and "ReduceMean" not in ops and not SHAPE_CHAIN & set(ops)
    assert _scales(tmp_path / "out.onnx") == [1.0, 1.0, 2.0, 2.0]
    assert [line.split(":")[0] for line in report.graph_pass.fired()] == ["global-average-pool x1", "integer-resize x1"]
    assert report.graph_pass.left_as_is() == []
    assert [c.shape[0] for c in report.parity] == ([2] if sizes == "constant" else [1, 3])
    assert all(c.passed and c.reference_dtype == "float64" and c.judged_against == "in.onnx" for c in report.parity)
    _same_outputs(source, tmp_path / "out.onnx", (2, 3, 8, 8))


def test_the_rewritten_gates_stay_in_onnxruntimes_layout(tmp_path: Path) -> None:
    source = save(gated_graph(hw=(16, 16)), tmp_path / "in.onnx")
    optimize_file(source, tmp_path / "out.onnx")
    before, after = ort_ops(source), ort_ops(tmp_path / "out.onnx")
    if not before["nchwc:Conv"]:
        pytest.skip("onnxruntime's NCHWc layout is not used on this CPU")
    assert after["nchwc:GlobalAveragePool"] == 1 and after["nchwc:Upsample"] == 1
    assert reorders(after) < reorders(before)


@pytest.mark.parametrize("sizes,hw,reason", [
    ("shape-concat", (7, 7), "3x3 -> 7x7 is not an integer upsample"),
    ("dynamic", (8, 8), "spatial size is dynamic (unknown until run time): an integer scale cannot be proven"),
])
def test_a_gate_that_cannot_be_rewritten_exactly_is_left_as_it_is_and_reported(
        sizes: str, hw: tuple[int, int], reason: str, tmp_path: Path) -> None:
    source = save(gated_graph(sizes, hw=hw), tmp_path / "in.onnx")
    report = optimize_file(source, tmp_path / "out.onnx", OptimizeOptions(input_size=hw if sizes == "dynamic" else None))
    (left,) = report.graph_pass.left_as_is()
    assert left.startswith("integer-resize left Resize -> 'spread' as it is: ") and reason in left
    resizes = [n for n in onnx.load(str(tmp_path / "out.onnx")).graph.node if n.op_type == "Resize"]
    assert [len(n.input) for n in resizes] == [4]  # still by sizes
    assert report.graph_pass.fired() and _ops(tmp_path / "out.onnx")["GlobalAveragePool"] == 1
    assert all(c.passed for c in report.parity) and report.parity[0].shape[2:] == hw


def test_a_mean_that_drops_its_dims_is_reported_not_rewritten() -> None:
    x = ir.val("x", ir.DataType.FLOAT, ir.Shape([1, 8, 4, 4]))
    axes = ir.val("axes", ir.DataType.INT64, ir.Shape([2]), const_value=ir.tensor(np.array([-2, -1], np.int64)))
    mean = ir.node("ReduceMean", [x, axes], {"keepdims": 0})
    graph = ir.Graph([x], mean.outputs, nodes=[mean], initializers=[axes], opset_imports={"": 18})
    report = optimizing.optimize_graph(ir.Model(graph, ir_version=10))
    assert report.fired() == [] and "keepdims=0" in report.left_as_is()[0]
    assert [n.op_type for n in graph] == ["ReduceMean"]


def test_a_plain_recalib_export_optimised_as_a_file_is_the_optimised_export(tmp_path: Path) -> None:
    """One implementation: export-then-pass and the optimising export give the same graph."""
    model = randomize(Host("ge-theta-minus", size=(16, 16)))
    model.block = type(model.block)(32, variant="theta-minus", extent=2)
    to_onnx(model, (3, 16, 16), tmp_path / "plain.onnx", ExportOptions(optimize=False, write_report=False))
    direct = to_onnx(model, (3, 16, 16), tmp_path / "direct.onnx", ExportOptions(write_report=False))
    report = optimize_file(tmp_path / "plain.onnx", tmp_path / "file.onnx")
    assert report.graph_pass.fired() == direct.rewrites
    assert _ops(tmp_path / "file.onnx") == _ops(tmp_path / "direct.onnx")
    plain, optimised = ort_ops(tmp_path / "plain.onnx"), ort_ops(tmp_path / "file.onnx")
    assert optimised == ort_ops(tmp_path / "direct.onnx")
    if plain["nchwc:Conv"]:  # the gate is spread inside onnxruntime's layout, with fewer copies around it
        assert optimised["nchwc:Upsample"] == 1 and reorders(optimised) < reorders(plain)


def test_the_graph_truth_of_an_unfolded_export_is_pytorchs_float64_truth(tmp_path: Path) -> None:
    """The ONNX reference implementation really computes in float64: with PyTorch's own weights (no
    batch norm for the exporter to fold in float32) it lands where float64 PyTorch does, a million
    times closer than float32 does."""
    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), create_block("se", 32)).eval()
    to_onnx(model, (3, 8, 8), tmp_path / "m.onnx", ExportOptions(fold=False, optimize=False, write_report=False))
    x = torch.randn(2, 3, 8, 8).numpy()
    graph, torch_truth = GraphTruth(tmp_path / "m.onnx").reference(x), Truth(model).reference(x)
    scale = np.abs(torch_truth.truth[0]).max()
    assert np.abs(graph.truth[0] - torch_truth.truth[0]).max() / scale < 1e-12
    assert graph.pytorch_error is not None and graph.pytorch_error > 1e-9  # float32 onnxruntime, the yardstick


def test_a_rewrite_that_breaks_the_bound_is_refused_and_nothing_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(optimizing, "GRAPH_REWRITES", (*optimizing.GRAPH_REWRITES, sigmoid_as_tanh()))
    source = save(gated_graph(), tmp_path / "in.onnx")
    with pytest.raises(VerificationError, match="out.onnx on onnxruntime: .* from in.onnx float64 .*outside the bound"):
        optimize_file(source, tmp_path / "out.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.onnx"]


def test_a_graph_the_reference_implementation_cannot_run_is_judged_against_its_float32_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def unsupported(model: onnx.ModelProto) -> onnx.ModelProto:
        raise NotImplementedError("an op the reference implementation lacks")
    monkeypatch.setattr(graph_truth, "as_float64", unsupported)
    report = optimize_file(save(gated_graph(), tmp_path / "in.onnx"), tmp_path / "out.onnx", OptimizeOptions(tolerance=1e-5))
    assert all(c.reference_dtype == "float32" and c.pytorch_error is None and c.bound == 1e-5 for c in report.parity)
    assert "no float64 run (judged against float32 in.onnx)" in report.summary()


def _two_inputs(path: Path) -> Path:
    model = gated_graph()
    model.graph.input.append(copy.deepcopy(model.graph.input[0]))
    model.graph.input[1].name = "extra"
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize("make,error,message", [
    (lambda p: p, ConfigError, "no such file; give the path of an .onnx file"),
    (lambda p: (p.write_bytes(b"not a protobuf at all"), p)[1], ConfigError, "is not an ONNX model"),
    (_two_inputs, ConfigError, "has 2 inputs (input, extra); recalib optimize verifies graphs with one image input"),
    (lambda p: save(gated_graph("dynamic"), p), ConfigError, "has dynamic spatial dims (['N', 3, 'H', 'W']): give the size"),
])
def test_bad_input_is_refused_before_any_work(make, error, message: str, tmp_path: Path) -> None:
    source = make(tmp_path / "in.onnx")
    with pytest.raises(error) as caught:
        optimize_file(source, tmp_path / "out.onnx")
    assert message in str(caught.value)
    assert not (tmp_path / "out.onnx").exists()


def test_the_output_is_never_the_input_and_replaces_a_file_only_with_force(tmp_path: Path) -> None:
    source = save(gated_graph(), tmp_path / "in.onnx")
    original = source.read_bytes()
    with pytest.raises(OutputError, match="is an input of this run"):
        optimize_file(source, source, OptimizeOptions(force=True))
    assert source.read_bytes() == original
    (tmp_path / "out.onnx").write_text("mine")
    with pytest.raises(OutputError, match="already exists"):
        optimize_file(source, tmp_path / "out.onnx")
    assert (tmp_path / "out.onnx").read_text() == "mine"
    optimize_file(source, tmp_path / "out.onnx", OptimizeOptions(force=True))
    assert _ops(tmp_path / "out.onnx")["GlobalAveragePool"] == 1
    (tmp_path / "other.report.json").write_text("mine")  # the report beside an output is an output too
    with pytest.raises(OutputError, match="other.report.json already exists"):
        optimize_file(source, tmp_path / "other.onnx")
    assert not (tmp_path / "other.onnx").exists() and (tmp_path / "other.report.json").read_text() == "mine"


def test_an_unknown_target_is_refused() -> None:
    with pytest.raises(ConfigError, match="target 'tensorrt' is not one of onnxruntime, openvino"):
        OptimizeOptions(target="tensorrt")
