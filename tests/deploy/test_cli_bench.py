"""``recalib bench`` end to end, and its exit codes: 2 bad usage, 3 unavailable, 4 verification."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from deploy.availability import unavailable_reason
from recalib.cli.main import main

TINY = ["bench", "cifar_resnet20", "--input-size", "16", "16", "--threads", "1", "--warmup", "1",
        "--iters", "5"]


def test_bench_prints_a_table_and_writes_json_with_machine_info(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main([*TINY, "--block", "se", "--runtime", "ort-cpu", "--batch", "1,2", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "baseline" in printed and "overhead" in printed and str(out) in printed
    report = json.loads(out.read_text())
    assert report["labels"] == ["none", "se"]
    assert report["model"] == {"arch": "cifar_resnet20", "blocks": ["se"], "options": [],
                               "input_size": [16, 16]}
    assert [(r["runtime"], r["batch"]) for r in report["results"]] == [("ort-cpu", 1), ("ort-cpu", 2)]
    assert report["results"][0]["ratios"]["se"]["n"] == 5
    assert report["machine"]["cpu"] and report["machine"]["packages"]["onnxruntime"]
    assert report["config"]["runtime_options"]["ort-cpu"] == {"spinning": True}


def test_bench_no_spinning_goes_to_onnxruntime_runtimes_only(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    assert main([*TINY, "--runtime", "ort-cpu,torch-eager", "--no-spinning", "--json", str(out)]) == 0
    options = json.loads(out.read_text())["config"]["runtime_options"]
    assert options == {"ort-cpu": {"spinning": False}, "torch-eager": {}}


def test_bad_usage_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*TINY, "--batch", "one"])
    assert info.value.code == 2
    assert main([*TINY, "--batch", "0"]) == 2
    assert main([*TINY, "--block", "no-such-block"]) == 2
    assert main([*TINY, "--block", "se:reduction"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_unavailable_runtime_exits_3_with_the_install_hint(capsys: pytest.CaptureFixture[str]) -> None:
    if unavailable_reason("ort-cuda", "cuda") is None:
        pytest.skip("ort-cuda is available on this machine")
    assert main([*TINY, "--runtime", "ort-cuda"]) == 3
    assert '.[gpu]' in capsys.readouterr().err


def test_failed_verification_exits_4(capsys: pytest.CaptureFixture[str]) -> None:
    """With zero tolerance, the exported graph's float rounding already counts as a mismatch."""
    assert main([*TINY, "--runtime", "ort-cpu", "--atol", "0", "--rtol", "0"]) == 4
    assert "differs from PyTorch" in capsys.readouterr().err


def test_block_specs_give_typed_options_and_label_the_candidates() -> None:
    from deploy.candidates import model_candidates, parse_block

    assert parse_block("ge-theta-minus:extent=8") == ("ge-theta-minus", {"extent": 8})
    assert parse_block("se:reduction=4:gate=sigmoid") == ("se", {"reduction": 4, "gate": "sigmoid"})
    candidates = model_candidates("cifar_resnet20", ["none", "se:reduction=4"], (16, 16))
    assert [c.label for c in candidates] == ["none", "se:reduction=4"]
    params = [sum(p.numel() for p in c.module.parameters()) for c in candidates]
    assert params[1] > params[0]


def test_bench_times_the_optimized_export_unless_told_not_to(tmp_path: Path) -> None:
    import onnx

    from deploy.bench import export_candidates
    from deploy.candidates import model_candidates

    se = model_candidates("cifar_resnet20", ["se"], (16, 16))[1:]
    (tmp_path / "plain").mkdir(), (tmp_path / "optimized").mkdir()
    plain = export_candidates(se, (1, 3, 16, 16), tmp_path / "plain", optimize=False)[0]
    optimized = export_candidates(se, (1, 3, 16, 16), tmp_path / "optimized")[0]

    def ops(path: Path) -> set[str]:
        return {node.op_type for node in onnx.load(str(path)).graph.node}

    # export.optimize squeezes with GlobalAveragePool (kept in onnxruntime's NCHWc layout)
    assert "GlobalAveragePool" in ops(optimized) - ops(plain)
