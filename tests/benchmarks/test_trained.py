"""``benchmarks/trained.py``: trained on the digits, checkpointed, exported verified on every CPU runtime, timed."""
from __future__ import annotations

import json
from pathlib import Path

import trained


def test_a_small_run_records_accuracy_agreement_costs_and_latency_of_every_model(tmp_path: Path) -> None:
    """cifar_resnet20 at the digits' own 8x8, plain and with SE, one epoch, a few rounds."""
    argv = ["--arch", "cifar_resnet20:input_size=(8,8)", "--block", "se", "--epochs", "1", "--iters", "3",
            "--warmup", "1", "--out", str(tmp_path), "--tag", "t"]
    assert trained.main(argv) == 0
    [page_path] = tmp_path.glob("trained-*-t.md")
    data = json.loads(page_path.with_suffix(".json").read_text())
    runtimes = [t.name for t in trained.cpu_runtimes()]
    assert "ort-cpu" in runtimes and data["runtimes"] == runtimes
    plain, se = data["rows"]
    assert (plain["model"], se["model"], data["input_chw"], data["epochs"]) == ("plain", "se", [3, 8, 8], 1)
    assert se["params"] > plain["params"] and se["param_overhead_pct"] > 0 == plain["param_overhead_pct"]
    for row in data["rows"]:
        assert set(row["runtimes"]) == set(runtimes) and row["accuracy"] > 0.1  # above chance after one epoch
        for measured in row["runtimes"].values():
            assert measured["samples"] == data["test_images"] and measured["agreed"] >= measured["samples"] - 2
    assert all(se["runtimes"][r]["overhead_pct"] is not None is plain["runtimes"][r]["overhead_pct"] for r in runtimes)
    assert [m["model"] for m in data["timing"]["measurements"]][:2] == ["plain", "se"]
    page = page_path.read_text()
    assert "| plain | " in page and "| se | " in page and "## Timing run" in page
