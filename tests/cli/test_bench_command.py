"""``recalib bench``: files or specs, alternated, trtexec-style output; exit codes 2, 3 and 4."""
from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from cli_testing import FAST, SMALL
from recalib.deploy.availability import unavailable_reason
from recalib.cli.main import main


def test_bench_of_two_exported_files_reports_the_overhead_with_its_interval(
        exported: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    code = main(["bench", str(exported["base"]), str(exported["se"]), *FAST, "--batch", "1,2",
                 "-o", str(out), "--times"])
    assert code == 0
    printed = capsys.readouterr().out
    header = next(line for line in printed.splitlines() if line.startswith("runtime"))
    for column in ("p50 ms", "p90 ms", "p95 ms", "p99 ms", "mean ms", "min ms", "max ms", "samples/s"):
        assert column in header
    se_rows = [line for line in printed.splitlines() if line.split()[2:3] == [str(exported["se"])]]
    assert len(se_rows) == 2 and all("% [" in row for row in se_rows)
    result = json.loads(out.read_text())
    assert result["baseline"] == str(exported["base"])
    assert [m["input_chw"] for m in result["models"]] == [[1, 28, 28], [1, 28, 28]]
    assert "at export (base.report.json)" in result["models"][0]["verified"]
    measured = [(m["batch"], m["model"]) for m in result["measurements"]]
    assert measured == [(1, str(exported["base"])), (1, str(exported["se"])),
                        (2, str(exported["base"])), (2, str(exported["se"]))]
    se = result["measurements"][1]
    assert se["ratio"]["ci_low"] <= se["ratio"]["ratio"] <= se["ratio"]["ci_high"]
    assert len(se["times_ms"]) == 5 and min(se["times_ms"]) == pytest.approx(se["stats"]["min_ms"])
    assert result["settings"]["threads"] == 1 and result["machine"]["cpu"]


def test_a_file_without_its_report_takes_its_shape_from_the_graph(
        exported: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    alone = tmp_path / "alone.onnx"
    shutil.copy(exported["se"], alone)
    assert main(["bench", str(alone), *FAST, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["models"][0]["input_chw"] == [1, 28, 28]
    assert "no export report" in result["models"][0]["verified"]


def test_specs_are_prepared_and_every_runtime_is_judged_against_float64(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", SMALL, "--block", "se", "--runtime", "ort-cpu,torch-eager", "--no-spinning",
                 *FAST, "--json", "--baseline", "2"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [m["label"] for m in result["models"]] == [f"{SMALL}+se", SMALL]
    assert result["settings"]["runtime_options"] == {"ort-cpu": {"spinning": False}, "torch-eager": {}}
    checks = {(p["runtime"], p["label"]): p for p in result["parity"]}
    assert set(checks) == {(r, m) for r in ("ort-cpu", "torch-eager") for m in (SMALL, f"{SMALL}+se")}
    for check in checks.values():
        assert check["passed"] and check["reference_dtype"] == "float64"
        assert 0 < check["pytorch_error"] < check["bound"] and check["tolerance"] == 1e-4


@pytest.mark.parametrize("argv, message", [
    (["--block", "no-such-block"], "unknown block 'no-such-block'"),
    (["--block", "se:reduction"], "KEY=VALUE"),
    (["--batch", "0"], "batch sizes must be integers >= 1"),
    (["--runtime", "ort-cpu@cuda"], "cannot run on device 'cuda'"),
    (["--baseline", "7"], "--baseline 7"),
    (["--repeat", "0"], "repeat counts fresh worker processes: an integer >= 1, got 0"),
])
def test_bad_usage_exits_2_before_any_model_is_built(argv: list[str], message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", SMALL, *FAST, *argv]) == 2
    assert message in capsys.readouterr().err


def test_a_duration_replaces_the_rounds_rather_than_joining_them(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["bench", SMALL, *FAST, "--duration", "2"])
    assert exit_.value.code == 2 and "argument --duration: not allowed with argument --iters" in capsys.readouterr().err


def test_files_that_cannot_run_as_asked_exit_2(exported: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(exported["base"]), "--runtime", "torch-eager", *FAST]) == 2
    assert "runs PyTorch models" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["bench", str(exported["base"]), "--batch", "one"])
    assert info.value.code == 2


def test_unavailable_runtime_exits_3_with_the_install_hint(capsys: pytest.CaptureFixture[str]) -> None:
    if unavailable_reason("ort-cuda") is None:
        pytest.skip("ort-cuda is available on this machine")
    assert main(["bench", SMALL, "--runtime", "ort-cuda", *FAST]) == 3
    assert '.[gpu]' in capsys.readouterr().err


def test_failed_verification_exits_4(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """With no tolerance and no margin over PyTorch's own error, float32 rounding is a mismatch."""
    from recalib.export import parity

    monkeypatch.setattr(parity, "PYTORCH_MARGIN", 0.0)
    assert main(["bench", SMALL, *FAST, "--tolerance", "0"]) == 4
    assert "outside the bound" in capsys.readouterr().err


def test_json_output_is_written_whole_and_never_over_a_file_without_force(
        exported: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "mine.json"
    out.write_text("keep")
    assert main(["bench", str(exported["base"]), *FAST, "-o", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_text() == "keep"
    assert main(["bench", str(exported["base"]), *FAST, "-o", str(out), "--force"]) == 0
    assert json.loads(out.read_text())["baseline"] == str(exported["base"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]


def test_each_onnx_runtime_times_the_export_optimised_for_it(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("openvino")
    assert main(["bench", f"{SMALL}+cc-reduced", "--runtime", "ort-cpu,openvino-cpu", *FAST, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["models"][0]["exports"] == {"ort-cpu": "optimised for onnxruntime",
                                              "openvino-cpu": "optimised for openvino"}
    assert result["runtime_settings"]["openvino-cpu"]["precision"] == "f32"
    assert main(["bench", f"{SMALL}+cc-reduced", "--runtime", "ort-cpu,openvino-cpu", "--no-optimize", *FAST,
                 "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["models"][0]["exports"].values()) == {"plain"}


def test_bf16_runs_on_openvino_where_the_cpu_has_it_judged_against_pytorch_in_bf16(
        capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("openvino")
    assert main(["bench", SMALL, "--runtime", "ort-cpu", "--precision", "bf16", *FAST]) == 2
    assert "ort-cpu computes in fp32, int8, not 'bf16'; bf16 runs on openvino-cpu" in capsys.readouterr().err
    code = main(["bench", SMALL, "--runtime", "openvino-cpu", "--precision", "bf16", *FAST, "--json"])
    if code == 2:
        assert "native bf16" in capsys.readouterr().err
        return
    result = json.loads(capsys.readouterr().out)
    assert code == 0 and result["runtime_settings"]["openvino-cpu"]["precision"] == "bf16"
    [check] = result["parity"]
    assert check["precision"] == "bf16" and check["passed"] and check["pytorch_error"] > 1e-4


def _profiles(folder: Path, runtime: str, out: str) -> None:
    """The plain and SE profiles of ``runtime`` in ``folder``: the CSV format, each gate's layers in its module,
    and the time in gates written to the summary and printed."""
    summary = (folder / "summary.md").read_text()
    plain, se = (list(csv.DictReader((folder / f"{runtime}-b1-{label}.csv").open()))
                 for label in (SMALL, f"{SMALL}+se"))
    assert list(se[0]) == ["node", "op", "module", "gate", "fused", "ms"]
    assert not any(row["gate"] for row in plain)
    gated = [row for row in se if row["gate"]]
    assert gated and all(row["module"].startswith(row["gate"]) for row in gated)  # a gate's layers lie in its module
    assert all(float(row["ms"]) >= 0 for row in se)
    assert sum(bool(row["module"]) for row in plain) >= len(plain) // 2  # most layers name their module
    gate_ms, total_ms = sum(float(row["ms"]) for row in gated), sum(float(row["ms"]) for row in se)
    line = f"{SMALL}+se on {runtime}, batch 1: {total_ms:.3f} ms in {len(se)} layers; in gates {gate_ms:.3f} ms"
    assert line in summary and line in out


def test_profile_bills_each_layer_to_its_module_and_sums_the_gates(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("openvino")
    folder = tmp_path / "profile"
    assert main(["bench", SMALL, "--block", "se", "--runtime", "ort-cpu,openvino-cpu", *FAST,
                 "--profile", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "per-layer profiles: 4 in" in out
    for runtime in ("ort-cpu", "openvino-cpu"):
        _profiles(folder, runtime, out)


@pytest.mark.slow  # 7 s; torch eager's layer → module/gate mapping stays in the default run (tests/profiling/latency)
def test_profile_of_torch_eager_alone_exports_the_models_for_their_gates(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "profile"
    assert main(["bench", SMALL, "--block", "se", "--runtime", "torch-eager", *FAST, "--profile", str(folder)]) == 0
    _profiles(folder, "torch-eager", capsys.readouterr().out)


def test_profile_on_a_runtime_missing_here_is_refused_before_any_file(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "profile"
    code = main(["bench", SMALL, "--runtime", "ort-cpu,tensorrt", *FAST, "--profile", str(folder)])
    if code == 0:  # TensorRT runs here: it is timed, and listed as not profiled with the reason
        assert "tensorrt not profiled: recalib does not read TensorRT's per-layer profiler" in \
            (folder / "summary.md").read_text()
        return
    assert code == 3 and "backend 'tensorrt' is unavailable" in capsys.readouterr().err and not folder.exists()


def test_inputs_time_every_model_on_the_given_images(exported: dict[str, Path], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    images = tmp_path / "images.npz"
    np.savez(images, inputs=np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32),
             labels=np.arange(3))
    out = tmp_path / "bench.json"
    assert main(["bench", str(exported["base"]), str(exported["se"]), *FAST, "--batch", "1,4",
                 "--inputs", str(images), "-o", str(out)]) == 0
    assert f"inputs: the images of {images}" in capsys.readouterr().out
    assert json.loads(out.read_text())["settings"]["inputs"] == str(images)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, inputs=np.zeros((2, 3, 28, 28), dtype=np.float32), labels=np.arange(2))
    assert main(["bench", str(exported["base"]), *FAST, "--inputs", str(wrong)]) == 2
    assert "the images have 3 channels, but the model takes 1" in capsys.readouterr().err


@pytest.mark.parametrize("flags, message", [
    (["--runtime", "ort-cpu,torch-eager", "--calibration", "random"], "torch-eager computes in fp32, fp16, not 'int8'"),
    (["--calibration", "few"], "31 images are too few"),
    (["--calibration", "nan"], "hold NaN"),
    (["--calibration", "text"], "not numbers"),
    (["--calibration", "shape"], "the images are 14x14, but the model takes 28x28"),
])
def test_a_bad_int8_bench_is_refused_before_any_work_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    files = {"few": np.zeros((31, 1, 28, 28)), "nan": np.full((32, 1, 28, 28), np.nan),
             "text": np.full((32, 1, 28, 28), "x"), "shape": np.zeros((32, 1, 14, 14))}
    for name, inputs in files.items():
        np.savez(tmp_path / f"{name}.npz", inputs=inputs)
    flags = [str(tmp_path / f"{f}.npz") if f in files else f for f in flags]
    runtime = [] if "--runtime" in flags else ["--runtime", "ort-cpu"]
    out = tmp_path / "bench.json"
    assert main(["bench", SMALL, *runtime, *FAST, "--precision", "int8", *flags, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not out.exists()
