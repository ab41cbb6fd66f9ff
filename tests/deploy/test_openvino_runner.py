"""``openvino-cpu``: OpenVINO compiles the exported ONNX file, agrees with PyTorch, and says what ran."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from recalib.deploy import create_runner
from recalib.deploy.bench import compare
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.settings import BenchSettings
from recalib.deploy.target import parse_targets
from recalib.export.prepared import Prepared
from recalib.spec import Spec
from recalib.deploy.runner import random_input
from recalib.errors import ConfigError

from deploy_testing import INPUT_CHW, Models, pytorch_output

pytest.importorskip("openvino", reason="openvino-cpu needs the openvino package (pip install -e '.[cpu]')")

REPO = Path(__file__).resolve().parents[2]
# Parity with PyTorch in f32 at several batches and the refusal of another input size:
# tests/deploy/test_runners.py, beside onnxruntime's.


def test_precision_is_f32_unless_bf16_is_asked_for(tiny_models: Models) -> None:
    """The CPU plugin defaults to bf16 on CPUs with native bf16 (this one); the runner never does."""
    import openvino as ov

    _, path = tiny_models["plain"]
    assert create_runner("openvino-cpu", path, RunnerOptions(threads=1)).settings["precision"] == "f32"
    if "BF16" not in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
        with pytest.raises(ConfigError, match="native bf16"):
            create_runner("openvino-cpu", path, RunnerOptions(threads=1, precision="bf16"))
        return
    module, _ = tiny_models["plain"]
    bf16 = create_runner("openvino-cpu", path, RunnerOptions(threads=1, precision="bf16"))
    assert bf16.settings["precision"] == "bf16"
    x = random_input((2, *INPUT_CHW))
    error = np.abs(bf16.run(x) - pytorch_output(module, x)).max()
    assert 1e-6 < error < 0.1  # bf16 keeps 8 mantissa bits: close, but not f32-close


def test_threads_and_performance_hint_are_applied(tiny_models: Models) -> None:
    _, path = tiny_models["plain"]
    latency = create_runner("openvino-cpu", path, RunnerOptions(threads=1)).settings
    assert (latency["threads"], latency["hint"], latency["streams"]) == (1, "LATENCY", 1)
    throughput = create_runner("openvino-cpu", path, RunnerOptions(threads=2, hint="throughput")).settings
    assert (throughput["threads"], throughput["hint"]) == (2, "THROUGHPUT")


@pytest.mark.parametrize("options, message", [({"precision": "fp16"}, "fp32, bf16"),
                                              ({"hint": "fastest"}, "latency, throughput"),
                                              ({"threads": 0}, "threads must be an integer >= 1"),
                                              ({"spinning": False}, "spinning is a setting of ort-cpu, ort-cuda")])
def test_bad_settings_are_config_errors(tiny_models: Models, options: dict, message: str) -> None:
    _, path = tiny_models["plain"]
    with pytest.raises(ConfigError, match=message):
        create_runner("openvino-cpu", path, RunnerOptions(**options))


def test_refuses_a_missing_file_a_module_and_a_file_that_is_not_onnx(tiny_models: Models, tmp_path: Path) -> None:
    module, path = tiny_models["plain"]
    with pytest.raises(ConfigError, match="does not exist"):
        create_runner("openvino-cpu", path.with_name("missing.onnx"))
    with pytest.raises(ConfigError, match="export"):
        create_runner("openvino-cpu", module)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="is not an ONNX model"):  # refused before OpenVINO reads it
        create_runner("openvino-cpu", garbage)


def test_compare_checks_parity_and_times_both_models(tiny_models: Models) -> None:
    models = [Prepared(label, Spec(label, "arch"), INPUT_CHW, *tiny_models[label]) for label in ("plain", "gated")]
    settings = BenchSettings(parse_targets(["openvino-cpu"]), batches=(2,), warmup=1, iters=4, threads=1,
                             isolate=False)
    result = compare(models, settings)
    assert [(m.target, m.label, m.stats.n) for m in result.measurements] == [
        ("openvino-cpu", "plain", 4), ("openvino-cpu", "gated", 4)]
    assert result.get("openvino-cpu", 2, "plain").ratio is None
    assert result.get("openvino-cpu", 2, "gated").ratio is not None
    assert {p.label for p in result.parity} == {"plain", "gated"}
    assert all(p.passed and p.runtime == "openvino-cpu" and p.error < 1e-4 for p in result.parity)


def test_without_openvino_the_backend_is_unavailable_with_the_install_hint(tiny_models: Models) -> None:
    """A real interpreter in which ``import openvino`` fails, as on a machine without the wheel:
    doctor lists it as missing, the audit skips it, a runner refuses with the install hint."""
    _, path = tiny_models["plain"]
    script = ("import sys; sys.modules['openvino'] = None\n"
              "from recalib.cli.main import main\n"
              "main(['doctor', '--json'])\n"
              "from recalib.profiling.latency.audit import resolve_targets\n"
              "from recalib.profiling.latency.plan import default_plan\n"
              "print(resolve_targets(default_plan())[1]['openvino-cpu'], file=sys.stderr)\n"
              "from recalib.deploy import create_runner\n"
              f"create_runner('openvino-cpu', {str(path)!r})\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode != 0 and "BackendUnavailable" in proc.stderr
    assert "openvino is not installed" in proc.stderr and 'pip install -e ".[cpu]"' in proc.stderr
    # the audit's default runtimes name openvino-cpu and skip it, saying how to enable it
    assert "openvino is not installed; to enable it: pip install" in proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)["backends"]}
    assert rows["openvino-cpu"]["available"] is False and ".[cpu]" in rows["openvino-cpu"]["hint"]
