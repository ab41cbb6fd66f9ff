"""Each model source through every command that takes a model: export, profile, bench, audit --arch.

The models are tiny (an export takes about a second) and the timing rounds few: these tests prove the
sources reach every command, not how fast anything is.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from recalib.cli.main import main
from recalib.errors import ConfigError
from recalib.sources.user_code import import_file
from source_testing import save_program, tiny_module, write_nets

FAST = ["--threads", "1", "--warmup", "1", "--iters", "3"]


@pytest.fixture(scope="module")
def user(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The user's file of factories, and a .pt2 program with a dynamic batch."""
    folder = tmp_path_factory.mktemp("user")
    return {"nets": write_nets(folder), "program": save_program(folder / "tiny.pt2")}


def test_export_of_a_factory_is_verified_and_says_where_its_weights_came_from(
        user: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.onnx"
    assert main(["export", f"{user['nets']}:tiny:width=6", "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert out.is_file() and report["input_dims"] == ["batch", 3, 8, 8] and report["max_rel_error"] < 1e-4
    assert report["source"]["class"] == "Tiny" and report["source"]["recalib_spec"] is None
    weights = report["source"]["weights"]
    assert weights["from"] == "factory" and weights["factory"] == f"{user['nets']}:tiny width=6"
    assert weights["values"].startswith("random") and "random inputs" in weights["batchnorm_statistics"]
    assert report["folding"] == ["bn: BatchNorm folded into conv"]


def test_export_of_a_program_keeps_its_weights(user: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "program.onnx"
    assert main(["export", str(user["program"]), "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"]["weights"] == {"from": "program", "path": str(user["program"])}
    assert report["input_dims"] == ["batch", 3, 8, 8] and report["max_rel_error"] < 1e-4


def test_profile_counts_a_factorys_model_and_a_programs(user: dict[str, Path],
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", f"{user['nets']}:tiny:classes=7", "--input-size", "16", "16", "--json"]) == 0
    counted = json.loads(capsys.readouterr().out)
    model = import_file(user["nets"]).tiny(classes=7)
    assert counted["model"] == f"{user['nets']}:tiny classes=7" and counted["input_shape"] == [1, 3, 16, 16]
    assert counted["params"] == sum(p.numel() for p in model.parameters())
    assert counted["flops"] == 3 * 4 * 9 * 16 * 16 + 4 * 7  # the 3x3 conv and the classifier, multiply-adds
    assert main(["profile", str(user["program"]), "--json"]) == 0
    program = json.loads(capsys.readouterr().out)
    assert program["params"] == sum(p.numel() for p in tiny_module().parameters()) and program["unsupported_ops"] == {}


def _bench(user: dict[str, Path], runtimes: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    factory = f"{user['nets']}:tiny"
    assert main(["bench", factory, str(user["program"]), "--runtime", ",".join(runtimes), *FAST, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    measured = {(m["runtime"], m["model"]) for m in result["measurements"]}
    assert measured == {(r, m) for r in runtimes for m in (factory, str(user["program"]))}
    assert all(m["stats"]["n"] == 3 and m["stats"]["p50_ms"] > 0 for m in result["measurements"])
    assert len(result["parity"]) == 2 * len(runtimes) and all(p["passed"] for p in result["parity"])


def test_bench_times_a_factory_and_a_program_in_a_torch_worker_process(
        user: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    """Torch runtimes unpickle the user's classes in the worker: the file is imported there first."""
    _bench(user, ("torch-eager",), capsys)


@pytest.mark.slow
def test_bench_times_a_factory_and_a_program_on_onnxruntime_and_torch(
        user: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    _bench(user, ("ort-cpu", "torch-eager"), capsys)


def test_audit_takes_a_factory_as_an_architecture_without_blocks(user: dict[str, Path]) -> None:
    from recalib.profiling.latency.plan import LatencyPlan, check_names

    check_names(LatencyPlan(archs=(f"{user['nets']}:tiny", "cifar_resnet20")))
    with pytest.raises(ConfigError, match=r"inserts each --block into plain architectures, and measures your own "
                                          r"model \(FILE.py:FACTORY, a .pt2 program\) as it is"):
        check_names(LatencyPlan(archs=("cifar_resnet20+se",)))


@pytest.mark.slow
def test_audit_measures_a_factory_as_it_is(user: dict[str, Path], tmp_path: Path) -> None:
    folder = tmp_path / "report"
    assert main(["audit", "--sections", "latency", "--arch", f"{user['nets']}:tiny", "--runtime", "torch-eager",
                 "--no-optimize", *FAST, "--no-progress", "-o", str(folder)]) == 0
    latency = json.loads((folder / "report.json").read_text())["sections"]["latency"]
    (arch,) = latency["archs"]
    assert arch["arch"] == f"{user['nets']}:tiny" and arch["input_chw"] == [3, 8, 8]
    assert [c["label"] for c in arch["costs"]] == ["none"] and arch["costs"][0]["params"] == 4 * 27 + 2 * 4 + 4 * 3 + 3
    assert latency["failures"] == [] and {r["model"] for r in arch["records"]} == {"none"}


def test_a_trained_model_loaded_by_its_factory_exports_with_its_own_weights(
        user: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """What the README tells users with trained weights: load them in the factory."""
    from safetensors.torch import save_file

    trained = import_file(user["nets"]).tiny()
    with torch.no_grad():
        trained.bn.running_var.fill_(3.0)
    save_file(trained.state_dict(), str(tmp_path / "w.safetensors"))
    loader = tmp_path / "load.py"
    loader.write_text(f"from safetensors.torch import load_file\nimport nets\n\n"
                      f"def model():\n    m = nets.tiny()\n    m.load_state_dict(load_file({str(tmp_path / 'w.safetensors')!r}))\n"
                      f"    return m\n", encoding="utf-8")
    (tmp_path / "nets.py").write_text(user["nets"].read_text(), encoding="utf-8")
    (tmp_path / "neighbour.py").write_text("WIDTH = 4\n", encoding="utf-8")
    assert main(["export", f"{loader}:model", "-o", str(tmp_path / "m.onnx"), "--json"]) == 0
    weights = json.loads(capsys.readouterr().out)["source"]["weights"]
    assert weights["values"].startswith("the factory's own") and "batchnorm_statistics" not in weights
