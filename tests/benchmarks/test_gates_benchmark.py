"""``benchmarks/gates.py --quick``: the look-alikes' gates found, ablated, timed and reported."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

import gates
from recalib.models.catalog import MODELS


@pytest.mark.slow
def test_the_quick_run_reports_both_look_alikes_gates_per_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    out = gates.main(["--quick", "--out", str(tmp_path / "report")])
    rows = list(csv.DictReader((out / "gate_latency.csv").open()))
    assert {r["model"] for r in rows} == set(gates.NAMES)
    assert {r["ablated"] for r in rows if r["model"] == "timm_seresnet50"} == {"all gates", "stage1", "stage2",
                                                                             "stage3", "stage4"}
    assert all(r["runtime"] == "ort-cpu" and r["latency_share_pct"] for r in rows)
    listed = list(csv.DictReader((out / "gates.csv").open()))
    assert sum(r["model"] == "timm_seresnet50" for r in listed) == 6
    assert "VACUOUS" not in (out / "report.md").read_text()
