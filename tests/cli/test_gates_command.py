"""recalib gates, profile and audit on models with gates: what they print and write, and their exit codes."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import onnx
import pytest
import torch

from cli_testing import FAST, SMALL
from recalib.cli.main import main
from recalib.export.gates.detect import find_gates


def _json(capsys: pytest.CaptureFixture[str], argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_gates_of_an_exported_file_hold_what_the_blocks_hold_in_pytorch(
        exported: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    found = _json(capsys, ["gates", str(exported["se"])])
    profile = _json(capsys, ["profile", f"{SMALL}+se"])
    assert [g["name"] for g in found["gates"]] == [b["module"] for b in profile["blocks"]]
    assert found["gate_params"] == profile["recalibration"]["params"]
    assert found["gate_macs"] == profile["recalibration"]["flops"]
    assert found["macs"] == profile["flops"]


def test_a_graph_without_gates_says_so_and_its_ablation_is_a_usage_error(
        exported: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gates", str(exported["base"])]) == 0
    assert capsys.readouterr().out.startswith(f"no gates found in {exported['base']}")
    assert main(["gates", str(exported["base"]), "--ablate", "all"]) == 2
    assert "no gates found, so there is nothing to ablate" in capsys.readouterr().err


def test_an_ablation_is_written_checked_and_has_no_gates(exported: dict[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ablated.onnx"
    result = _json(capsys, ["gates", str(exported["se"]), "--ablate", "all", "--ablated", str(out)])
    assert result["ablation"]["check"]["differs"] and len(result["ablation"]["gates"]) == 2
    ablated, original = onnx.load(str(out)), onnx.load(str(exported["se"]))
    assert find_gates(ablated) == []
    assert len(original.graph.node) - len(ablated.graph.node) == result["ablation"]["removed_nodes"]


def test_bad_ablations_are_usage_errors_before_any_work(exported: dict[str, Path], tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gates", str(exported["se"]), "--ablate", "stage9"]) == 2
    assert "no gate is named 'stage9'; choose from: all, stage1, stage2" in capsys.readouterr().err
    assert main(["gates", str(exported["se"]), "--ablated", str(tmp_path / "a.onnx")]) == 2
    assert main(["gates", str(exported["se"]), "--ablate", "all", "--ablated", str(exported["se"])]) == 2


def test_an_onnx_file_is_profiled_from_its_graph(exported: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    profile = _json(capsys, ["profile", str(exported["se"])])
    assert profile["param_share"] == pytest.approx(profile["gate_params"] / profile["params"])
    assert main(["profile", str(exported["se"]), "--convention", "flop"]) == 2


def test_a_foreign_model_is_profiled_by_its_gates(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import gates_testing as gt
    from recalib.models.catalog import MODELS
    from recalib.registry import register_model

    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    register_model("hard_gated", lambda block=None, stages=None: gt.Tiny(gt.HardGate(8)), paper="mine",
                   summary="a hand-written hard-sigmoid gate", input_size=(8, 8), dataset="cifar")
    profile = _json(capsys, ["profile", "hard_gated"])
    gate = gt.HardGate(8)
    assert [b["module"] for b in profile["blocks"]] == ["gate"]
    assert profile["recalibration"]["params"] == sum(p.numel() for p in gate.parameters()) == 8 * 8 + 8
    assert profile["recalibration"]["flops"] == 8 * 8  # the 1x1 convolution on the pooled 1x1 map
    assert profile["recalibration"]["param_share"] == pytest.approx(72 / profile["params"])


def test_audit_model_reports_the_gates_latency_share_per_runtime(exported: dict[str, Path], tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    argv = ["audit", "--model", f"{SMALL}+se", "--runtime", "ort-cpu,torch-eager", *FAST, "-o", str(out),
            "--no-progress", "--repeat", "2"]
    assert main(argv) == 0
    rows = list(csv.DictReader((out / "gate_latency.csv").open()))
    assert len(rows) == 2 and list(rows[0])[:4] == ["model", "runtime", "batch", "ablated"]  # one row per runtime
    assert all(len(row["repeat_overheads_pct"].split()) == 2 and row["noisy"] in ("True", "False") for row in rows)
    assert "latency share" in capsys.readouterr().out
    document = json.loads((out / "report.json").read_text())["sections"]["gates"]["models"][0]
    assert document["ablations"][0]["checks"][0]["differs"] and document["ablations"][0]["torch"] is None
    assert main(["audit", "--sections", "gates", "-o", str(tmp_path / "r2")]) == 2
