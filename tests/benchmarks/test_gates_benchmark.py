"""``benchmarks/gates.py --quick``: the look-alikes' gates found, ablated, timed and reported."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

import gates

sys.path.insert(0, str(Path(gates.__file__).resolve().parents[1] / "examples"))
import foreign_models as fm  # noqa: E402


@pytest.mark.slow
def test_the_quick_run_reports_both_look_alikes_gates_per_stage(tmp_path: Path) -> None:
    out = gates.main(["--quick", "--out", str(tmp_path / "report")])
    seresnet, mobilenet = (spec.text for spec in gates.specs(quick=True))
    rows = list(csv.DictReader((out / "gate_latency.csv").open()))
    assert {r["model"] for r in rows} == {seresnet, mobilenet}
    assert {r["ablated"] for r in rows if r["model"] == seresnet} == {"all gates", "stage1", "stage2", "stage3",
                                                                    "stage4"}
    assert all(r["runtime"] == "ort-cpu" and r["latency_share_pct"] for r in rows)
    listed = list(csv.DictReader((out / "gates.csv").open()))
    small = fm.seresnet50(width=0.25, depth=0.34)
    assert sum(r["model"] == seresnet for r in listed) == sum(isinstance(m, fm.SEModule) for m in small.modules())
    # timm's zero-initialised last norms were redrawn by preparation, so no ablation is vacuous
    assert "VACUOUS" not in (out / "report.md").read_text()
