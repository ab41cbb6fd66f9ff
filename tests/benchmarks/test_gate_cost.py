"""``benchmarks/gate_cost.py``: one latency audit per network against ``ARCH+none``, the native network among
the timed models, blocks that cannot fit listed with the reason, noisy cells marked."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import gate_cost
from gate_cost_report import cells, markdown
from overhead_report import run_key

from recalib.deploy.stability import SPREAD_LIMIT
from recalib.profiling.latency.audit import run_label


def _run(times: dict[str, float], wobble: dict[str, float], rounds: int = 20) -> dict[str, Any]:
    """A recorded run: ``label`` takes ``times[label]`` ms, rounds spread by ±``wobble[label]`` of it."""
    measurements = [{"model": label, "times_ms": [ms * (1 + wobble.get(label, 0.01) * ((i % 3) - 1))
                                                  for i in range(rounds)]} for label, ms in times.items()]
    return {"bench": {"measurements": measurements}}


def _network(arch: str, labels: list[str], gate_ms: float, wobble: dict[str, float]) -> dict[str, Any]:
    times = {"none": 10.0, **{label: gate_ms for label in labels[1:]}}
    runs = {run_key(series, 1): _run(times, wobble) for series in ("ort-cpu plain", "ort-cpu optimized", "torch-eager")}
    costs = [{"label": label, "params": 1000 + 100 * i, "macs": 1e6 + 1e4 * i, "macs_all": 0.0}
             for i, label in enumerate(labels)]
    return {"arch": arch, "input_chw": [3, 224, 224], "labels": labels, "costs": costs, "runs": runs,
            "not_fitting": {"cmpe-se-pair-1x1": "needs the residual identity"}, "failures": [],
            "machine": {"load_average": [1.0, 1.0, 1.0]}, "load_average_end": [1.0, 1.0, 1.0], "seconds": 1.0}


def _data() -> dict[str, Any]:
    return {"recorded": "2026-01-01T00:00:00+00:00", "threads": 1, "spinning": True, "quick": False, "optimize": True,
            "batches": [1], "runtimes": ["ort-cpu", "torch-eager"], "onnx_runtimes": ["ort-cpu"],
            "rounds": {"ort-cpu": {"1": 20}, "torch-eager": {"1": 20}},
            "machine": {"cpu": "Test CPU", "cores_available": 2, "os": "Linux", "packages": {"torch": "2.13"}},
            "networks": [_network("resnet50", ["none", "se"], 10.5, {}),
                         _network("mobilenet_v3_large", ["none", "native", "se"], 12.0, {"se": 0.3})]}


def test_overheads_are_against_the_network_without_any_gate_and_noise_is_marked() -> None:
    data = _data()
    resnet, mobilenet = data["networks"]
    assert cells(data, resnet, 1, "se")["ort-cpu optimized"]["pct"] == pytest.approx(5.0)
    native, se = cells(data, mobilenet, 1, "native"), cells(data, mobilenet, 1, "se")
    assert native["torch-eager"]["pct"] == pytest.approx(20.0) and not native["torch-eager"]["noisy"]
    assert 0.3 * 2 / 1.0 > SPREAD_LIMIT and se["torch-eager"]["noisy"]  # rounds 30% apart: IQR/median 0.6


def test_the_page_sets_each_published_gate_beside_its_costs_and_lists_what_cannot_fit() -> None:
    page = markdown(_data())
    assert "| resnet50 | `se` | 1 | +10.00% | +1.00% | +5.0% [" in page
    assert "| mobilenet_v3_large | `native` | 1 | +10.00% | +1.00% | +20.0% [" in page
    se = next(line for line in page.splitlines() if line.startswith("| `se` | +20.00%"))
    assert se.count("*noisy*") == 3
    assert "- `cmpe-se-pair-1x1`: needs the residual identity" in page and "| `none` | 1,000 | 1.0 M | 10.00 ms" in page


@pytest.mark.slow  # 17-20 s; the page tests above render recorded runs in the default run
def test_a_quick_run_times_the_native_network_against_no_gate_and_renders_again(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """MobileNetV3 at 32x32 on onnxruntime, a few rounds; the page made from the record is ``--render``'s."""
    assert gate_cost.main(["--quick", "--out", str(tmp_path), "--tag", "t"]) == 0
    assert "timed ort-cpu-b1" in capsys.readouterr().out
    [page_path] = tmp_path.glob("gate-cost-*-t.md")
    data = json.loads(page_path.with_suffix(".json").read_text())
    [network] = data["networks"]
    assert network["labels"] == ["none", "native", "ge-theta-minus"] and network["failures"] == []
    assert list(network["runs"]) == ["ort-cpu-b1"]
    assert [m["model"] for m in network["runs"]["ort-cpu-b1"]["bench"]["measurements"]] == [
        run_label(label, "plain") for label in network["labels"]]
    costs = {c["label"]: c["params"] for c in network["costs"]}
    assert costs["native"] - costs["none"] == 1_512_280 and costs["ge-theta-minus"] == costs["none"]
    assert "needs the residual identity" in network["not_fitting"]["cmpe-se-pair-1x1"]
    page = page_path.read_text()
    assert "| `native` | +38.09% |" in page and "quick smoke run" in page
    page_path.unlink()
    assert gate_cost.main(["--render", str(page_path.with_suffix(".json"))]) == 0
    assert page_path.read_text() == page
