"""`recalib audit` end to end on a tiny configuration, and its exit codes.

One real run (CIFAR ResNet-20 with SE, two CPU runtimes, batch 1, three rounds, one paper's
claims) is shared by the file checks; the exit-code tests fail before any slow work.
"""
from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from recalib.cli.main import main
from recalib.errors import VerificationError
from recalib.profiling.latency.audit import resolve_targets
from recalib.profiling.latency.plan import default_plan

TINY = ["--arch", "cifar_resnet20", "--block", "se", "--runtime", "ort-cpu,torch-eager",
        "--batch", "1", "--iters", "3", "--warmup", "1", "--no-progress"]
FILES = ["claims-detail.md", "claims.csv", "costs.csv", "latency.csv", "latency_by_runtime.png",
         "latency_vs_flops.png", "report.json", "report.md"]
RECORD = ".recalib-report.json"  # the seals of the files recalib wrote


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """The report folder of one tiny audit with both sections, and its exit status."""
    out = tmp_path_factory.mktemp("audit") / "report"
    return out, main(["audit", "-o", str(out), "--papers", "contextual-convolution", *TINY])


def test_tiny_audit_writes_every_file(tiny_report: tuple[Path, int]) -> None:
    out, status = tiny_report
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == sorted([RECORD, *FILES])
    assert sorted(json.loads((out / "report.json").read_text())["files"]) == FILES
    for png in ("latency_by_runtime.png", "latency_vs_flops.png"):
        image = imread(out / png)
        assert image.ndim == 3 and min(image.shape[:2]) > 100


def test_report_markdown_has_both_sections_and_the_plots(tiny_report: tuple[Path, int]) -> None:
    markdown = (tiny_report[0] / "report.md").read_text()
    summary, _, body = markdown.partition("## Claims audit")
    assert "## Summary" in summary and "cifar_resnet20 + se: FLOPs" in summary
    assert "## Latency audit" in body and "### cifar_resnet20 (3×32×32)" in body
    assert "](latency_vs_flops.png)" in body and "](latency_by_runtime.png)" in body
    assert "Not measured" not in body


def test_latency_rows_pair_each_model_with_its_costs(tiny_report: tuple[Path, int]) -> None:
    rows = list(csv.DictReader((tiny_report[0] / "latency.csv").open()))
    assert {(r["target"], r["model"]) for r in rows} == {
        (t, m) for t in ("ort-cpu", "torch-eager") for m in ("none", "se")}
    for row in rows:
        baseline = row["model"] == "none"
        assert (row["overhead_pct"] == "") == baseline
        assert float(row["p50_ms"]) > 0 and int(row["n"]) == 3
        assert 0 <= float(row["parity_error"]) < 1e-4  # judged against float64 PyTorch before timing
    se = next(r for r in rows if r["model"] == "se")
    assert float(se["params_overhead_pct"]) > 0 and float(se["macs_all_overhead_pct"]) > 0
    costs = {r["model"]: r for r in csv.DictReader((tiny_report[0] / "costs.csv").open())}
    assert costs["none"]["params"] == "269722"


def test_report_json_holds_both_sections(tiny_report: tuple[Path, int]) -> None:
    sections = json.loads((tiny_report[0] / "report.json").read_text())["sections"]
    assert sum(sections["claims"]["counts"].values()) == 4  # the contextual-convolution paper's figures
    latency = sections["latency"]
    assert latency["targets"] == ["ort-cpu", "torch-eager"] and latency["failures"] == []
    assert latency["skipped"] == {}  # runtimes named on the command line are never skipped
    assert latency["archs"][0]["exports"]["plain"]["se"]["nodes"] > latency["archs"][0]["exports"]["plain"]["none"]["nodes"]


def test_a_runtime_named_but_unavailable_exits_3_before_any_work(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["audit", "-o", str(out), "--runtime", "ort-cpu,tensorrt", "--no-progress"]) == 3
    assert "pip install" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("bad", [["--batch", "0"], ["--arch", "nope"], ["--block", "nope"],
                                 ["--block", "se:reduction"], ["--arch", "resnet50+se"],
                                 ["--sections", "claims,speed"], ["--runtime", "onnx"],
                                 ["--runtime", "ort-cpu@cuda"], ["--threads", "0"], ["--tolerance", "-1"]])
def test_bad_usage_exits_2_before_any_work(tmp_path: Path, bad: list[str]) -> None:
    out = tmp_path / "report"
    assert main(["audit", "-o", str(out), "--no-progress", *bad]) == 2
    assert not out.exists()


@pytest.mark.parametrize("bad, message", [
    (["--runtime", "ort-cpu,torch-eager"], "--runtime torch-eager: torch-eager computes in fp32, fp16, not 'int8'; "
                                           "int8 runs on ort-cpu"),
    (["--calibration-method", "percentile", "--calibration", "few"], "31 images are too few"),
    (["--calibration", "nan"], "hold NaN"),
    (["--calibration", "shape"], "the images have 1 channels, but the model takes 3"),
])
def test_a_bad_int8_audit_is_refused_before_any_work_naming_the_runtime_or_the_images(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: list[str], message: str) -> None:
    files = {"few": np.zeros((31, 3, 32, 32)), "nan": np.full((32, 3, 32, 32), np.nan), "shape": np.zeros((32, 1, 32, 32))}
    for name, inputs in files.items():
        np.savez(tmp_path / f"{name}.npz", inputs=inputs)
    bad = [str(tmp_path / f"{b}.npz") if b in files else b for b in bad]
    calibration = [] if "--calibration" in bad else ["--calibration", "random"]
    out = tmp_path / "report"
    assert main(["audit", "-o", str(out), "--no-progress", "--sections", "latency", "--arch", "cifar_resnet20",
                 "--precision", "int8", *calibration, *bad]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not out.exists()


def test_the_default_runtimes_that_cannot_compute_in_int8_are_skipped_with_the_reason() -> None:
    plan = replace(default_plan(quick=True), precision="int8", calibration="random")
    targets, skipped = resolve_targets(plan)
    assert "ort-cpu" in {t.name for t in targets} and "torch-eager" not in {t.name for t in targets}
    assert skipped["torch-eager"].startswith("torch-eager computes in fp32, fp16, not 'int8'")


def test_unparsable_options_are_argparse_usage_errors() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["audit", "--batch", "one"])
    assert exc.value.code == 2


def test_output_pointing_at_a_file_is_refused_and_leaves_nothing(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "report.md"
    target.write_text("mine")
    for out in (target, target / "sub"):
        assert main(["audit", "-o", str(out), "--no-progress"]) == 2
        assert "not a folder" in capsys.readouterr().err
    assert target.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]


def test_failed_verification_exits_4_and_still_writes_the_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from recalib.export import prepare

    def disagree(*args: object, **kwargs: object) -> None:
        raise VerificationError("onnxruntime disagrees with PyTorch (simulated)")

    monkeypatch.setattr(prepare, "export_model", disagree)
    out = tmp_path / "report"
    assert main(["audit", "-o", str(out), "--sections", "latency", *TINY[:4], "--runtime", "ort-cpu",
                 "--batch", "1", "--no-progress"]) == 4
    markdown = (out / "report.md").read_text()
    assert "### Not measured" in markdown and "simulated" in markdown
    assert json.loads((out / "report.json").read_text())["sections"]["latency"]["failures"][0]["exit_code"] == 4
