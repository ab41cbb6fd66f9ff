"""``--precision`` on export and bench: one meaning, and every bad request refused before any work, nothing written."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest

from cli_testing import FAST, SMALL
from recalib.cli.main import main
from recalib.deploy.availability import unavailable_reason
from recalib.export.parity import INT8_TOLERANCE
from recalib.export.quantize.calibration import MIN_SAMPLES


def test_an_int8_export_writes_the_verified_qdq_graph_and_warns_of_random_calibration(tmp_path, capsys) -> None:
    out = tmp_path / "m.onnx"
    assert main(["export", SMALL, "-o", str(out), "--precision", "int8", "--calibration", "random"]) == 0
    printed = capsys.readouterr().out
    assert "WARNING: calibrated on random inputs" in printed and "QuantizeLinear" in printed
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["precision"] == "int8" and report["quantization"]["recipe"]["calibration"].startswith("256 random")
    assert [p["precision"] for p in report["parity"]] == ["fp32", "fp32", "int8", "int8"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.report.json"]


def test_the_calibration_method_is_the_reports_and_onnxruntimes_progress_lines_stay_off_stdout(tmp_path, capsys) -> None:
    method = "percentile"
    out = tmp_path / "m.onnx"
    assert main(["export", SMALL, "-o", str(out), "--precision", "int8", "--calibration", "random",
                 "--calibration-method", method, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)  # the histogram calibrators print progress; none of it here
    assert printed["quantization"]["recipe"]["calibration_method"] == method
    assert printed["quantization"]["recipe"]["activations"] == f"uint8, asymmetric, {method} ranges"


def npz(tmp_path, inputs) -> str:
    path = tmp_path / "calibration.npz"
    np.savez(path, inputs=inputs)
    return str(path)


@pytest.mark.parametrize("flags, message", [
    (["--precision", "int8"], "an int8 export needs calibration images"),
    (["--calibration", "random"], "calibration images are for int8 exports, not fp32"),
    (["--gates-in-float"], "--gates-in-float is an int8 setting"),
    (["--calibration-method", "percentile"], "--calibration-method is an int8 setting"),
    (["--precision", "int8", "--calibration", "ints"], "inputs are of type <U1, not numbers"),
    (["--precision", "bf16"], "onnxruntime CPU, which verifies an export by default, computes in fp32 and int8"),
    (["--precision", "bf16", "--runtime", "ort-cpu"], "ort-cpu computes in fp32, int8, not 'bf16'; bf16 runs on"),
    (["--precision", "int8", "--calibration", "few"], f"{MIN_SAMPLES - 1} images are too few"),
    (["--precision", "int8", "--calibration", "nan"], "hold NaN"),
    (["--precision", "int8", "--calibration", "shape"], "have 3 channels, but the model takes 1"),
])
def test_a_bad_precision_request_is_a_usage_error_and_nothing_is_written(tmp_path, capsys, flags, message) -> None:
    files = {"few": np.zeros((MIN_SAMPLES - 1, 1, 28, 28)), "nan": np.full((MIN_SAMPLES, 1, 28, 28), np.nan),
             "shape": np.zeros((MIN_SAMPLES, 3, 28, 28)), "ints": np.full((MIN_SAMPLES, 1, 28, 28), "x")}
    flags = [npz(tmp_path, files[f]) if f in files else f for f in flags]
    out = tmp_path / "out" / "m.onnx"
    out.parent.mkdir()
    assert main(["export", SMALL, "-o", str(out), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recalib export: error: ") and re.search(re.escape(message), err)
    assert "Traceback" not in err and list(out.parent.iterdir()) == []


def test_bench_times_int8_on_each_cpu_runtime_judged_on_the_int8_bound(tmp_path, capsys) -> None:
    runtimes = "ort-cpu" if unavailable_reason("openvino-cpu") else "ort-cpu,openvino-cpu"
    assert main(["bench", SMALL, "--runtime", runtimes, "--batch", "1", *FAST, "--precision", "int8",
                 "--calibration", "random", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [p["runtime"] for p in result["parity"]] == runtimes.split(",")
    assert all(p["precision"] == "int8" and p["bound"] == INT8_TOLERANCE and 0 < p["error"] < INT8_TOLERANCE
               for p in result["parity"])
    assert [m["runtime"] for m in result["measurements"]] == runtimes.split(",")
    if "openvino-cpu" in runtimes:
        assert result["runtime_settings"]["openvino-cpu"]["int8_layers"] > 0

