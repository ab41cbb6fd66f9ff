"""What the latency audit measures: architectures, blocks, runtime targets, batches, rounds, tolerance.

The defaults are sized for the product's promise: the whole ``recalib audit`` (claims and
latency) finishes in under 10 minutes on a 2-core CPU machine with other load, and
``--quick`` in under 2 minutes (the README records measured times). Exporting dominates
(about 7 s per ResNet-50 model, twice with optimised exports), then ResNet-50 timing; so the
default times batch 1 only and takes the CIFAR ResNet-20 (the MS-SAR paper's smallest net)
as the CIFAR network. Blocks default to the ones issue 7 sets latency targets for: SE, GE-θ⁻
(e = 8), GE-θ, MS-SAR, CC-block-Reduced, and the input-independent CC blocks (a spatial map
that folds to one Mul, and a scalar gate that folds into the preceding conv).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.settings import BenchSettings, check_timing
from recalib.deploy.target import Target, parse_targets
from recalib.export.rewrites import check_target
from recalib.export.options import (DEFAULT_CALIBRATION_METHOD, DEFAULT_PRECISION, DEFAULT_TOLERANCE,
                                    check_calibration_method, check_precision_name, check_tolerance)
from recalib.errors import ConfigError

if TYPE_CHECKING:
    from recalib.spec import Spec

__all__ = ["LatencyPlan", "default_plan", "check_names", "BASELINE", "NATIVE", "DEFAULT_ARCHS", "DEFAULT_BLOCKS",
           "QUICK_BLOCKS", "DEFAULT_TARGETS", "MIN_ROUNDS", "QUICK_ITERS", "FOREIGN_KINDS"]

DEFAULT_ARCHS = ("resnet50", "cifar_resnet20")
DEFAULT_BLOCKS = ("se", "ge-theta-minus:extent=8", "ge-theta", "ms-sar", "cc-reduced", "cc-static",
                  "cc-static-scalar")
QUICK_BLOCKS = ("se", "ge-theta-minus:extent=8")
# GPU targets (and OpenVINO) are in the default list so a report says how to enable them; they
# are skipped (with the reason) where no GPU is visible (or openvino is not installed). TensorRT and torch-compile build or
# compile every model for minutes, which the time budget cannot hold: ask for them by name.
DEFAULT_TARGETS = ("ort-cpu", "openvino-cpu", "torch-eager", "ort-cuda", "torch-eager@cuda")
MIN_ROUNDS = 8
# Sources of models recalib did not build: the audit measures them as they are, without its blocks.
FOREIGN_KINDS = ("factory", "program")
QUICK_ITERS = 20
#: The label of each architecture's baseline, built as ``ARCH+none``: block ``none``
#: (:data:`recalib.blocks.NO_BLOCK`, written out here because this module stays free of torch) is
#: no block at all, not even a native one.
BASELINE = "none"
#: The label of an architecture as published, with its native block.
NATIVE = "native"


@dataclass(frozen=True)
class LatencyPlan:
    """One latency audit. ``iters`` timed rounds at batch 1, ``iters / batch`` at larger batches
    (at least :data:`MIN_ROUNDS`), so each measurement covers about as many images; warm-up
    rounds shrink the same way.

    ``strict``: the user named the targets, so an unavailable one is an error, not a skip.
    ``optimize``: ``True`` times each ONNX runtime on the export optimised for it beside the
    plain one, a target's name (:data:`recalib.export.optimize.TARGETS`) that target's export on every
    runtime, ``False`` the plain exports only.
    ``threads``: CPU threads of each timed model (None: the cores available). The default is 1:
    with every core in use, a torch model waits at each op for a thread that another process
    holds; on a busy 2-core machine ResNet-50 took 2.1 s instead of 78 ms. One thread per model
    is the setting other load disturbs least, so the default report is reproducible on shared
    machines; pass more for a dedicated deployment's setting.
    ``native``: also time each architecture as published, with its native block
    (:attr:`recalib.entries.ArchEntry.native`, EfficientNet's SE), labelled :data:`NATIVE`, where it
    has one. Every overhead is against :data:`BASELINE`, the architecture with no block at all
    (``ARCH+none``), so a native gate's cost is measured like any block's.
    ``runtime_iters``: a runtime's own timed rounds at batch 1 where it should not run ``iters``
    (a benchmark gives slow torch runtimes fewer); ``runtime_options``: a runtime's other
    :class:`~recalib.deploy.runner_options.RunnerOptions` (e.g. onnxruntime's ``spinning``), as
    :class:`~recalib.deploy.settings.BenchSettings` takes them. Keys are runtimes of ``targets``.
    ``duration``: seconds of timed rounds per comparison instead of rounds; ``repeat``: fresh worker
    processes per comparison (:attr:`~recalib.deploy.settings.BenchSettings.repeat`).
    ``precision``: what every runtime computes in (``recalib.export.options.PRECISIONS``); int8 exports each
    model as a QDQ graph calibrated on ``calibration`` (``digits``, an ``.npz`` or ``random``, loaded at each
    architecture's input size) with ranges read by ``calibration_method``, its gates kept in float with
    ``gates_in_float``.
    """

    archs: tuple[str, ...] = DEFAULT_ARCHS
    blocks: tuple[str, ...] = DEFAULT_BLOCKS
    targets: tuple[Target, ...] = parse_targets(DEFAULT_TARGETS)
    batches: tuple[int, ...] = (1,)
    iters: int = 30
    warmup: int = 3
    threads: int | None = 1
    optimize: bool | str = True
    native: bool = True
    strict: bool = False
    tolerance: float = DEFAULT_TOLERANCE
    runtime_iters: Mapping[str, int] = field(default_factory=dict)
    runtime_options: Mapping[str, RunnerOptions] = field(default_factory=dict)
    duration: float | None = None
    repeat: int = 1
    precision: str = DEFAULT_PRECISION
    calibration: str | None = None
    gates_in_float: bool = False
    calibration_method: str = DEFAULT_CALIBRATION_METHOD

    def __post_init__(self) -> None:
        check_precision_name(self.precision)
        check_calibration_method(self.calibration_method)
        int8_settings = self.gates_in_float or self.calibration_method != DEFAULT_CALIBRATION_METHOD
        if (self.precision == "int8") != (self.calibration is not None) or (int8_settings and not self.calibration):
            raise ConfigError("int8 needs --calibration digits|FILE.npz|random, and only int8 takes it (and "
                              "--gates-in-float, --calibration-method)")
        if not self.archs or not self.targets:
            raise ConfigError("choose at least one architecture and runtime")
        for iters in (self.iters, *self.runtime_iters.values()):
            check_timing(self.batches, iters, self.warmup, self.threads, self.repeat, self.duration)
        unknown = sorted({*self.runtime_iters, *self.runtime_options} - {t.runtime for t in self.targets})
        if unknown:
            raise ConfigError(f"rounds or options given for runtime(s) {', '.join(unknown)}, which are not measured")
        check_tolerance(self.tolerance)
        check_target(self.optimize)

    @cached_property
    def arch_specs(self) -> tuple[Spec, ...]:
        """Each architecture parsed, once per plan: the checks, the memory estimate and the audit
        all read these (:func:`check_names` refuses one that is neither a plain architecture nor a user's
        model)."""
        from recalib.spec import parse_spec

        return tuple(parse_spec(arch) for arch in self.archs)

    def labels(self, spec: Spec) -> tuple[str, ...]:
        """The models timed on architecture ``spec`` (one of :attr:`arch_specs`): :data:`BASELINE`, then
        :data:`NATIVE` where it has a native block (and ``native`` is on), then each of ``blocks``; your
        own model (:data:`FOREIGN_KINDS`) is measured as it is, without recalib's blocks."""
        from recalib.models.catalog import arch_entry
        from recalib.record import ModelRecord

        if spec.kind in FOREIGN_KINDS:
            return (BASELINE,)
        assert isinstance(spec.record, ModelRecord)
        native = self.native and arch_entry(spec.record.arch).native is not None
        return (BASELINE, *((NATIVE,) if native else ()), *self.blocks)

    def rounds(self, batch: int, runtime: str | None = None) -> int:
        """Timed rounds at ``batch`` (of ``runtime``, where it has rounds of its own)."""
        iters = self.runtime_iters.get(runtime, self.iters) if runtime is not None else self.iters
        return min(iters, max(MIN_ROUNDS, math.ceil(iters / batch)))

    def settings(self, target: Target, batch: int,
                 runtime_options: Mapping[str, RunnerOptions] | None = None) -> BenchSettings:
        """One comparison on ``target`` at ``batch`` as the plan times it (rounds or ``duration``, warm-up,
        threads, tolerance, ``repeat``): what the latency and the gates audits both run."""
        return BenchSettings((target,), (batch,), warmup=self.warmup_rounds(batch),
                             iters=self.rounds(batch, target.runtime), threads=self.threads,
                             tolerance=self.tolerance, duration=self.duration, repeat=self.repeat,
                             runtime_options=runtime_options or {})

    def warmup_rounds(self, batch: int) -> int:
        """Untimed rounds at ``batch``: ``warmup / batch``, at least one unless ``warmup`` is 0."""
        return min(self.warmup, max(1, math.ceil(self.warmup / batch)))


def default_plan(quick: bool = False) -> LatencyPlan:
    """The plan of ``recalib audit`` (``quick``: two blocks, fewer rounds)."""
    plan = LatencyPlan()
    return replace(plan, blocks=QUICK_BLOCKS, iters=QUICK_ITERS) if quick else plan


def check_names(plan: LatencyPlan) -> None:
    """Fail fast, before minutes of work, on a bad architecture or block specification."""
    from recalib.spec import parse_block

    from recalib.record import ModelRecord

    for arch, spec in zip(plan.archs, plan.arch_specs):
        if spec.kind in FOREIGN_KINDS:
            continue  # measured as it is: blocks go into recalib's architectures only
        if spec.kind != "arch" or not isinstance(spec.record, ModelRecord) or spec.record.block is not None:
            raise ConfigError(f"--arch {arch}: the audit inserts each --block into plain architectures, and "
                              f"measures your own model (FILE.py:FACTORY, a .pt2 program) as it is; give "
                              f"ARCH[:OPTIONS] without a block, or your model")
    for block in plan.blocks:
        parse_block(block)
