"""``benchmarks/mobile_rewrite.py``: the native gates' overhead, plain vs optimised export, from one alternated run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mobile_rewrite


def test_each_overhead_is_native_over_no_gate_in_the_same_form_and_the_cut_is_the_share_saved() -> None:
    rng = np.random.default_rng(0)
    jitter = 1 + 0.01 * rng.random(40)
    times = {"none-plain": 10 * jitter, "native-plain": 12 * jitter, "none-optimised": 9 * jitter,
             "native-optimised": 9.9 * jitter}
    row = mobile_rewrite.overheads(times)
    assert row["plain"]["pct"] == pytest.approx(20.0) and row["optimised"]["pct"] == pytest.approx(10.0)
    assert row["cut"] == pytest.approx(0.5)
    assert row["plain"]["ci"][0] <= 20.0 <= row["plain"]["ci"][1]
    assert mobile_rewrite.overheads({**times, "native-plain": 9 * jitter})["cut"] is None  # no overhead to cut


@pytest.mark.slow
def test_a_quick_run_records_both_forms_and_what_fired(tmp_path: Path) -> None:
    """EfficientNet-B0 at 64x64 on onnxruntime, a few rounds (about a minute: four verified exports)."""
    assert mobile_rewrite.main(["--quick", "--out", str(tmp_path), "--tag", "t"]) == 0
    [page] = tmp_path.glob("mobile-rewrite-*-t.md")
    [network] = json.loads(page.with_suffix(".json").read_text())["networks"]
    [run] = network["runs"]
    assert run["runtime"] == "ort-cpu" and set(run["median_ms"]) == set(mobile_rewrite.FILES)
    assert any(line.startswith("gate-in-weights x1:") for line in run["fired"])
    assert "| efficientnet_b0:input_size=(64,64) | ort-cpu | 1 | 0 |" in page.read_text()
