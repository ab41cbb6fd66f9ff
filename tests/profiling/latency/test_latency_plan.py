"""The latency plan: targets, rounds per batch, defaults, and which runtimes are skipped or refused."""
from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.target import Target, parse_targets
from recalib.profiling.latency.audit import export_variants, resolve_targets
from recalib.profiling.latency.plan import LatencyPlan, check_names, default_plan
from recalib.errors import BackendUnavailable, ConfigError


def test_targets_name_the_device_only_when_it_is_not_the_runtimes_own() -> None:
    assert Target.parse("ort-cpu") == Target("ort-cpu", "cpu") and Target.parse("ort-cpu").name == "ort-cpu"
    assert Target.parse("torch-eager@cuda").name == "torch-eager@cuda"
    assert Target.parse("ort-cuda").device == "cuda" and not Target.parse("torch-compile").runs_onnx
    assert parse_targets(["ort-cpu", "ort-cpu@cpu"]) == (Target("ort-cpu", "cpu"),)
    for bad in ("ort-cpu@cuda", "torch-eager@tpu", "onnxruntime"):
        with pytest.raises(ConfigError):
            Target.parse(bad)


def test_larger_batches_get_fewer_rounds_but_never_fewer_than_the_minimum() -> None:
    plan = LatencyPlan(iters=30)
    assert [plan.rounds(b) for b in (1, 2, 8, 64)] == [30, 15, 8, 8]
    assert LatencyPlan(iters=3).rounds(8) == 3  # never more than asked for


def test_quick_plan_is_a_subset_of_the_default() -> None:
    full, quick = default_plan(), default_plan(quick=True)
    assert set(quick.blocks) < set(full.blocks) and quick.iters < full.iters
    assert full.archs == quick.archs == ("resnet50", "cifar_resnet20") and full.batches == quick.batches == (1,)
    assert full.threads == 1  # the setting other load disturbs least


@pytest.mark.parametrize("kwargs", [{"batches": (0,)}, {"iters": 0}, {"warmup": -1}, {"threads": 0},
                                    {"archs": ()}, {"tolerance": float("nan")}])
def test_invalid_plans_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LatencyPlan(**kwargs)  # type: ignore[arg-type]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible: the GPU targets can run")
def test_default_gpu_targets_are_skipped_with_the_hint_but_named_ones_are_refused() -> None:
    plan = LatencyPlan(targets=parse_targets(["ort-cpu", "ort-cuda", "torch-eager@cuda"]))
    usable, skipped = resolve_targets(plan)
    assert [t.name for t in usable] == ["ort-cpu"]
    assert set(skipped) == {"ort-cuda", "torch-eager@cuda"} and "to enable it:" in skipped["ort-cuda"]
    with pytest.raises(BackendUnavailable, match="ort-cuda"):
        resolve_targets(replace(plan, strict=True))


def test_torch_only_targets_export_nothing_and_no_optimize_is_noted() -> None:
    torch_only = [Target.parse("torch-eager")]
    assert export_variants(torch_only, optimize=True) == ([], {})
    variants, notes = export_variants([Target.parse("ort-cpu")], optimize=False)
    assert variants == ["plain"] and "--no-optimize" in notes["optimized"]


def test_optimised_exports_are_each_runtimes_own_target_unless_one_is_named() -> None:
    onnx = [Target.parse("ort-cpu"), Target.parse("openvino-cpu"), Target.parse("torch-eager")]
    variants, notes = export_variants(onnx, optimize=True)
    assert variants == ["plain", "optimized"]
    assert notes["optimized"] == "each runtime its own target's form: `ort-cpu` onnxruntime's, `openvino-cpu` openvino's"
    assert "every runtime openvino's form (--target)" in export_variants(onnx, optimize="openvino")[1]["optimized"]
    with pytest.raises(ConfigError, match="names no export target"):
        LatencyPlan(optimize="tvm")


def test_names_are_checked_as_specs_before_any_work() -> None:
    check_names(LatencyPlan(archs=("resnet50:stride_in_1x1=true",), blocks=("ms-sar:scales=(1,2)",)))
    with pytest.raises(ConfigError, match="without a block"):
        check_names(LatencyPlan(archs=("resnet50+se",)))
    with pytest.raises(ConfigError, match="'se' does not take option"):
        check_names(LatencyPlan(blocks=("se:extent=8",)))


def test_a_runtime_with_rounds_of_its_own_gets_them_at_every_batch() -> None:
    plan = LatencyPlan(targets=parse_targets(["ort-cpu", "torch-eager"]), iters=30, runtime_iters={"torch-eager": 12})
    assert [plan.rounds(b, "torch-eager") for b in (1, 2, 8)] == [12, 8, 8]
    assert [plan.rounds(b, "ort-cpu") for b in (1, 2, 8)] == [plan.rounds(b) for b in (1, 2, 8)] == [30, 15, 8]


@pytest.mark.parametrize("kwargs", [{"runtime_iters": {"torch-eager": 0}}, {"runtime_iters": {"openvino-cpu": 5}},
                                    {"runtime_options": {"openvino-cpu": RunnerOptions(hint="latency")}}])
def test_rounds_and_options_only_for_measured_runtimes_and_valid(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        LatencyPlan(targets=parse_targets(["ort-cpu", "torch-eager"]), **kwargs)  # type: ignore[arg-type]


def test_each_architecture_is_timed_against_itself_without_any_block_and_as_published() -> None:
    """The baseline is ``ARCH+none`` (no native gate either); the native network is timed where there is one."""
    from recalib.blocks import NO_BLOCK
    from recalib.profiling.latency.plan import BASELINE, NATIVE

    plan = LatencyPlan(archs=("resnet50", "efficientnet_b0"), blocks=("se", "ge-theta"))
    resnet, efficientnet = plan.arch_specs
    assert BASELINE == NO_BLOCK and plan.labels(resnet) == (BASELINE, "se", "ge-theta")
    assert plan.labels(efficientnet) == (BASELINE, NATIVE, "se", "ge-theta")
    assert replace(plan, native=False).labels(efficientnet) == (BASELINE, "se", "ge-theta")


def test_every_comparison_of_the_plan_takes_its_duration_repeat_and_runtime_rounds() -> None:
    """The latency and the gates audits build their comparisons here: neither can drop --duration or --repeat."""
    ort, torch = parse_targets(["ort-cpu", "torch-eager"])
    plan = LatencyPlan(targets=(ort, torch), iters=30, warmup=4, runtime_iters={"torch-eager": 12}, duration=0.5,
                       repeat=3, threads=2)
    settings = plan.settings(torch, 8)
    assert (settings.targets, settings.batches, settings.duration, settings.repeat) == ((torch,), (8,), 0.5, 3)
    assert (settings.iters, settings.warmup, settings.threads) == (plan.rounds(8, "torch-eager"), 1, 2)
    assert plan.settings(ort, 1).iters == 30 and plan.settings(ort, 1).runtime_options == {}
