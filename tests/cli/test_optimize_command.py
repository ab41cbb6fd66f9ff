"""``recalib optimize``: any ONNX file with a target's exact rewrites, verified against itself; exit codes."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import onnx
import pytest

from cli_testing import SMALL
from graph_testing import gated_graph, save, sigmoid_as_tanh
from recalib.cli import optimize
from recalib.cli.main import build_parser, main
from recalib.export import optimize as optimizing
from recalib.export.from_file import from_file
from recalib.export.options import OptimizeOptions
from recalib.spec import parse_spec


def _ops(path: Path) -> Counter:
    return Counter(n.op_type for n in onnx.load(str(path)).graph.node)


@pytest.fixture(scope="module")
def plain_se(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``recalib export`` of the small MNIST net with SE, plain and optimised."""
    folder = tmp_path_factory.mktemp("se")
    paths = {"plain": folder / "plain.onnx", "direct": folder / "direct.onnx"}
    assert main(["export", f"{SMALL}+se", "-o", str(paths["plain"]), "--no-optimize"]) == 0
    assert main(["export", f"{SMALL}+se", "-o", str(paths["direct"])]) == 0
    return paths


def test_a_plain_recalib_export_gets_the_optimised_exports_graph(plain_se, tmp_path, capsys) -> None:
    out = tmp_path / "opt.onnx"
    capsys.readouterr()
    assert main(["optimize", str(plain_se["plain"]), "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    direct = json.loads(plain_se["direct"].with_suffix(".report.json").read_text())
    assert report["rewrites"] == direct["rewrites"] == [
        "global-average-pool x2: spatial mean over (H, W) exported as GlobalAveragePool (was ReduceMean)"]
    assert report["graph_pass"]["left_as_is"] == [] and report["target"] == "onnxruntime"
    assert _ops(out) == _ops(plain_se["direct"]) and report["ops_after"] == dict(_ops(out))
    assert [p["shape"][0] for p in report["parity"]] == [1, 3] and report["max_rel_error"] < report["parity"][0]["bound"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["opt.onnx", "opt.report.json"]
    assert json.loads((tmp_path / "opt.report.json").read_text()) == report
    timed = from_file(parse_spec(str(out)))  # what recalib bench reads: the input and the verification
    assert timed.input_chw == (1, 28, 28) and f"max error {report['max_rel_error']:.1e}" in timed.verified


def test_verify_on_the_digits_judges_decisions_against_the_input_graph(plain_se, tmp_path, capsys) -> None:
    capsys.readouterr()
    assert main(["optimize", str(plain_se["plain"]), "-o", str(tmp_path / "opt.onnx"), "--verify-data", "digits",
                 "--target", "openvino"]) == 0
    printed = capsys.readouterr().out
    assert "optimized for openvino" in printed and "verified on digits test split (449 images, seed 0, 28x28)" in printed
    assert "parity: opt.onnx on onnxruntime: " in printed and "from plain.onnx float64 at 449x1x28x28" in printed
    assert "agreement: onnxruntime on digits test split" in printed and "top-1 agreement 449/449" in printed


def test_another_exporters_graph_with_a_gate_left_as_it_is(tmp_path, capsys) -> None:
    source = save(gated_graph("dynamic"), tmp_path / "in.onnx")
    assert main(["optimize", str(source), "-o", str(tmp_path / "out.onnx"), "--input-size", "8", "8"]) == 0
    printed = capsys.readouterr().out
    assert "(1 rewrites fired, 1 candidates left as they were)" in printed
    assert "integer-resize left Resize -> 'spread' as it is: its input's spatial size is dynamic" in printed
    assert "ops: GlobalAveragePool 0 -> 1, ReduceMean 1 -> 0" in printed and "at 3x3x8x8" in printed


def test_a_broken_bound_exits_4_and_writes_nothing(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setattr(optimizing, "GRAPH_REWRITES", (sigmoid_as_tanh(),))
    source = save(gated_graph(), tmp_path / "in.onnx")
    assert main(["optimize", str(source), "-o", str(tmp_path / "out.onnx")]) == 4
    assert "outside the bound; the output was not written" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.onnx"]


@pytest.mark.parametrize("argv,message", [
    (["missing.onnx", "-o", "out.onnx"], "missing.onnx: no such file"),
    (["damaged.onnx", "-o", "out.onnx"], "damaged.onnx is not an ONNX model"),
    (["in.onnx", "-o", "in.onnx", "--force"], "in.onnx is an input of this run"),
    (["in.onnx", "-o", "out.onnx", "--target", "tensorrt"], "invalid choice: 'tensorrt'"),
    (["two.onnx", "-o", "out.onnx"], "two.onnx has 2 inputs (input, extra)"),
    (["in.onnx", "-o", "out.onnx", "--input-size", "16", "16"], "takes 8x8 images, not the --input-size 16x16"),
    (["in.onnx", "-o", "out.onnx", "--tolerance", "-1"], "finite number >= 0"),
    (["in.onnx", "-o", "out.onnx", "--verify-data", "digits"], "needs a classifier with one (N, classes) output"),
    (["in.onnx", "-o", "out.onnx", "--verify-data", "nothing.npz"], "nothing.npz: no such file"),
])
def test_bad_input_exits_2_before_any_work(argv, message, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    save(gated_graph(), tmp_path / "in.onnx")
    (tmp_path / "damaged.onnx").write_bytes(b"\x08\x07garbage")
    two = gated_graph()
    two.graph.input.append(onnx.helper.make_tensor_value_info("extra", onnx.TensorProto.FLOAT, [1]))
    save(two, tmp_path / "two.onnx")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert _status(["optimize", *argv]) == 2
    assert message in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing written, nothing touched


def _status(argv: list[str]) -> int | str | None:
    """The exit status of ``recalib ARGV``, whether the command returns it or argparse exits with it."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def test_flags_not_given_leave_the_records_defaults_and_given_ones_reach_it(tmp_path) -> None:
    assert optimize.options(build_parser().parse_args(["optimize", "in.onnx", "-o", "out.onnx"])) == OptimizeOptions()
    given = build_parser().parse_args(["optimize", "in.onnx", "-o", "out.onnx", "--target", "openvino",
                                       "--tolerance", "1e-3", "--input-size", "8", "9", "--force"])
    assert optimize.options(given) == OptimizeOptions(target="openvino", tolerance=1e-3, input_size=(8, 9), force=True)
