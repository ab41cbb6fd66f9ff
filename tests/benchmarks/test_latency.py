"""``benchmarks/latency.py``: one call of the bench API, recorded as a JSON and a page named by machine and date."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import latency


def test_a_small_run_records_every_model_on_every_runtime_against_the_plain_backbone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--arch", "cc_vgg_mnist", "--block", "se", "--runtime", "ort-cpu", "--iters", "3", "--warmup", "1",
            "--threads", "1", "--note", "a smoke run", "--out", str(tmp_path), "--tag", "t"]
    assert latency.main(argv) == 0
    assert "exported cc_vgg_mnist+se" in capsys.readouterr().out
    [page_path] = tmp_path.glob("cc_vgg_mnist-ort-cpu-b1-*-t.md")
    data = json.loads(page_path.with_suffix(".json").read_text())
    assert data["baseline"] == "cc_vgg_mnist" and data["note"] == "a smoke run"
    assert [(m["runtime"], m["model"], len(m["times_ms"])) for m in data["measurements"]] == [
        ("ort-cpu", "cc_vgg_mnist", 3), ("ort-cpu", "cc_vgg_mnist+se", 3)]
    assert data["models"][1]["exports"] == {"ort-cpu": "optimised for onnxruntime"}
    assert all(p["passed"] for p in data["parity"]) and data["settings"]["threads"] == 1
    page = page_path.read_text()
    se_row = next(line for line in page.splitlines() if "cc_vgg_mnist+se" in line and line.startswith("| ort-cpu"))
    assert "% [" in se_row and "- note: a smoke run" in page and page.startswith("# cc_vgg_mnist latency overhead")
