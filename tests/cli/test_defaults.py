"""Every default is the option record's own: a flag not given leaves it, and the help shows it."""
from __future__ import annotations

import pytest

from cli_testing import SMALL
from recalib.cli import bench
from recalib.cli._specs import prepare_options
from recalib.cli.main import build_parser, main
from recalib.deploy.settings import BenchSettings
from recalib.export.options import ExportOptions, PrepareOptions
from recalib.profiling.latency.plan import LatencyPlan


def test_flags_not_given_leave_the_records_defaults() -> None:
    args = build_parser().parse_args(["bench", SMALL])
    settings, default = bench._settings(args), BenchSettings()
    assert (settings.targets, settings.batches, settings.warmup, settings.iters, settings.tolerance) == (
        default.targets, default.batches, default.warmup, default.iters, default.tolerance)
    assert prepare_options(args) == PrepareOptions()
    exported = build_parser().parse_args(["export", SMALL, "-o", "m.onnx"])
    assert prepare_options(exported) == PrepareOptions()


def test_given_flags_reach_the_records() -> None:
    args = build_parser().parse_args(["export", SMALL, "-o", "m.onnx", "--seed", "3", "--opset", "20", "--no-fold",
                                      "--target", "openvino", "--tolerance", "1e-3"])
    assert prepare_options(args, fixed_batch=2) == PrepareOptions(
        seed=3, export=ExportOptions(fixed_batch=2, fold=False, optimize="openvino", opset=20, tolerance=1e-3))


@pytest.mark.parametrize("command, shown", [
    ("bench", [f"(default: {BenchSettings.iters})", f"(default: {BenchSettings.warmup})",
               f"(default: {BenchSettings.targets[0].name})", f"(default {PrepareOptions.seed})"]),
    ("export", [f"(default {ExportOptions.opset};"]),
    ("audit", [f"(default: {LatencyPlan.iters}, --quick", f"(default: {', '.join(LatencyPlan.archs)})"]),
])
def test_the_help_shows_the_records_defaults(command: str, shown: list[str],
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert all(" ".join(item.split()) in text for item in shown)
