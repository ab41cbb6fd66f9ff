"""``benchmarks/precision.py``: each model at fp32, bf16 and int8 on the CPU runtimes, speed-up and block overhead
from the same alternated rounds, decisions on the digits."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import precision
from recalib.deploy.stats import summarize
from recalib.export.agreement import AgreementCheck


def _stats(ms: float):
    return summarize(np.full(5, ms * 1e6), batch=1)


def test_speedup_is_against_fp32_and_overhead_against_plain_at_the_same_precision() -> None:
    agreement = AgreementCheck("ort-cpu", "digits", 200, 198, 180, 179, 0.3, 0.01, (), "int8")
    models = [precision.Model("r20", label, None, None, "digits", [agreement], "percentile")  # type: ignore[arg-type]
              for label in (precision.PLAIN, "se")]
    stats = {("r20", "plain", "fp32"): _stats(2.0), ("r20", "plain", "int8"): _stats(1.0),
             ("r20", "se", "fp32"): _stats(2.2), ("r20", "se", "int8"): _stats(1.25)}
    rows = {(r["model"], r["precision"]): r for r in precision.rows(models, {("ort-cpu", 1): stats})}
    assert rows[("plain", "int8")]["speedup"] == pytest.approx(2.0) and rows[("plain", "int8")]["overhead_pct"] is None
    assert rows[("se", "fp32")]["overhead_pct"] == pytest.approx(10.0)
    assert rows[("se", "int8")]["overhead_pct"] == pytest.approx(25.0)
    assert rows[("se", "int8")]["agreement"] == pytest.approx(0.99) and rows[("se", "int8")]["accuracy"] == 0.895
    assert rows[("se", "int8")]["int8_setting"] == "percentile" and rows[("se", "fp32")]["int8_setting"] is None
    assert "agreement" not in rows[("se", "fp32")]  # no fp32 decisions were given
    page = precision.markdown({"recorded": "t", "machine": {"cpu": "c", "cores_available": 2}, "load_start": (1, 1, 1),
                               "load_end": (1, 1, 1), "cpu_flags": "f", "iters": 5, "warmup": 1, "recipe": "r",
                               "settings": ["minmax", "percentile"], "rows": list(rows.values()),
                               "not_offered": [("ort-cpu", "bf16", "ort-cpu computes in fp32, int8")],
                               "not_reached": [("r20", "ge", ["minmax: 98.2% agreement", "percentile: 98.0%"])],
                               "gates": [("r20", "se", "9 gates, 9 wholly int8")]})
    assert "| r20 se | ort-cpu | 1 | int8 | percentile | 1.250 |" in page and "+25.0%" in page and "99.00%" in page
    assert "| r20 se | ort-cpu | 1 | fp32 | – | 2.200 |" in page
    assert "- not measured: ort-cpu bf16: ort-cpu computes in fp32, int8" in page
    assert "**r20 ge: no int8 setting meets the bounds**" in page and "  - percentile: 98.0%" in page


def test_int8_settings_start_with_the_recipe_as_it_is_and_end_with_the_gates_in_float() -> None:
    assert precision.INT8_SETTINGS[0] == ("minmax", False) and precision.INT8_SETTINGS[-1][1] is True
    assert precision.describe_setting("percentile", True) == "percentile, gates in float"
    offered = {(r, p) for r in precision.RUNTIMES for p in precision.precisions(r)}
    refused = {(r, p) for r, p, _ in precision.not_offered()}
    assert offered.isdisjoint(refused) and offered | refused == {(r, p) for r in precision.RUNTIMES
                                                                 for p in precision.TABLE_PRECISIONS}


@pytest.mark.slow
def test_a_quick_run_records_every_precision_of_every_runtime(tmp_path: Path) -> None:
    assert precision.main(["--quick", "--weights", str(tmp_path / "w"), "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "precision.json").read_text())
    for runtime in precision.runtimes():
        got = {(r["model"], r["precision"]) for r in data["rows"] if r["runtime"] == runtime}
        assert got == {(m, p) for m in ("plain", "se") for p in precision.precisions(runtime)}
    int8 = [r for r in data["rows"] if r["precision"] == "int8"]
    assert int8 and all(r["agreement"] >= 0.99 and r["accuracy"] >= r["pytorch_accuracy"] - 0.01 for r in int8)
    assert all(r["int8_setting"] in data["settings"] for r in int8) and data["not_reached"] == []
    assert (tmp_path / "precision.md").read_text().count("| resnet20-digits") == len(data["rows"])
