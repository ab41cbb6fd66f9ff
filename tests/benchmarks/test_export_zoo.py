"""``benchmarks/export_zoo.py``: every architecture exported plain and with its paper's block, verified, recorded."""
from __future__ import annotations

import json
from pathlib import Path

import export_zoo


def test_a_small_run_records_the_plain_export_and_the_papers_block_with_parity(tmp_path: Path) -> None:
    assert export_zoo.main(["--arch", "cc_vgg_mnist", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "export_zoo.json").read_text())
    rows = data["rows"]
    assert [(r["arch"], r["block"], r["status"]) for r in rows] == [
        ("cc_vgg_mnist", None, "ok"), ("cc_vgg_mnist", "cc-static", "ok")]
    assert all(r["max_rel_error"] <= r["bound"] and r["input"] == [1, 28, 28] for r in rows)
    assert rows[1]["params"] > rows[0]["params"] and rows[1]["folds"] > 0
    assert data["environment"]["torch_threads"] == 1
    page = (tmp_path / "export_zoo.md").read_text()
    assert "2 of 2 exports verified" in page and "| cc_vgg_mnist | cc-static |" in page
