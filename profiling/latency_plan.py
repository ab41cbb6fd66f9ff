"""What the latency audit measures: architectures, blocks, runtime targets, batches, rounds.

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
from dataclasses import dataclass, replace

from deploy.availability import BACKENDS
from deploy.runner import default_device
from recalib.errors import ConfigError

__all__ = ["Target", "LatencyPlan", "default_plan", "parse_targets", "check_names", "DEFAULT_ARCHS",
           "DEFAULT_BLOCKS", "QUICK_BLOCKS", "DEFAULT_TARGETS", "MIN_ROUNDS"]

DEFAULT_ARCHS = ("resnet50", "cifar_resnet20")
DEFAULT_BLOCKS = ("se", "ge-theta-minus:extent=8", "ge-theta", "ms-sar", "cc-reduced", "cc-static",
                  "cc-static-scalar")
QUICK_BLOCKS = ("se", "ge-theta-minus:extent=8")
# GPU targets (and OpenVINO) are in the default list so a report says how to enable them; they
# are skipped (with the reason) where no GPU is visible (or openvino is not installed). TensorRT and torch-compile build or
# compile every model for minutes, which the time budget cannot hold: ask for them by name.
DEFAULT_TARGETS = ("ort-cpu", "openvino-cpu", "torch-eager", "ort-cuda", "torch-eager@cuda")
MIN_ROUNDS = 8
_DEVICES = ("cpu", "cuda")
_TORCH = ("torch-eager", "torch-compile")


@dataclass(frozen=True)
class Target:
    """A runtime on a device, written ``RUNTIME[@DEVICE]`` (``torch-eager@cuda``)."""

    runtime: str
    device: str

    @classmethod
    def parse(cls, text: str) -> Target:
        runtime, _, device = text.strip().partition("@")
        if runtime not in BACKENDS:
            raise ConfigError(f"unknown runtime {runtime!r}; choose from {', '.join(BACKENDS)} "
                              f"(torch runtimes take @cuda for the GPU)")
        device = device or default_device(runtime)
        if device not in _DEVICES or (runtime not in _TORCH and device != default_device(runtime)):
            raise ConfigError(f"runtime {runtime!r} cannot run on device {device!r}; only torch-eager "
                              f"and torch-compile take @cpu or @cuda")
        return cls(runtime, device)

    @property
    def name(self) -> str:
        return self.runtime if self.device == default_device(self.runtime) else f"{self.runtime}@{self.device}"

    @property
    def runs_onnx(self) -> bool:
        """Whether the target runs exported ONNX files (else the PyTorch module)."""
        return self.runtime not in _TORCH


def parse_targets(names: list[str]) -> tuple[Target, ...]:
    """``["ort-cpu", "torch-eager@cuda"]`` → targets, duplicates removed."""
    targets = tuple(dict.fromkeys(Target.parse(n) for n in names))
    if not targets:
        raise ConfigError("choose at least one runtime")
    return targets


@dataclass(frozen=True)
class LatencyPlan:
    """One latency audit. ``iters`` timed rounds at batch 1, ``iters / batch`` at larger batches
    (at least :data:`MIN_ROUNDS`), so each measurement covers about as many images; warm-up
    rounds shrink the same way.

    ``strict``: the user named the targets, so an unavailable one is an error, not a skip.
    ``threads``: CPU threads of each timed model (None: the cores available). The default is 1:
    with every core in use, a torch model waits at each op for a thread that another process
    holds; on a busy 2-core machine ResNet-50 took 2.1 s instead of 78 ms. One thread per model
    is the setting other load disturbs least, so the default report is reproducible on shared
    machines; pass more for a dedicated deployment's setting.
    """

    archs: tuple[str, ...] = DEFAULT_ARCHS
    blocks: tuple[str, ...] = DEFAULT_BLOCKS
    targets: tuple[Target, ...] = tuple(Target.parse(n) for n in DEFAULT_TARGETS)
    batches: tuple[int, ...] = (1,)
    iters: int = 30
    warmup: int = 3
    threads: int | None = 1
    optimize: bool = True
    strict: bool = False

    def __post_init__(self) -> None:
        if not self.archs or not self.targets or not self.batches:
            raise ConfigError("choose at least one architecture, runtime and batch size")
        if min(self.batches) < 1 or self.iters < 1 or self.warmup < 0:
            raise ConfigError(f"need batches >= 1, iters >= 1 and warmup >= 0; got batches "
                              f"{list(self.batches)}, iters {self.iters}, warmup {self.warmup}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be at least 1, got {self.threads}")

    def rounds(self, batch: int) -> int:
        """Timed rounds at ``batch``."""
        return min(self.iters, max(MIN_ROUNDS, math.ceil(self.iters / batch)))

    def warmup_rounds(self, batch: int) -> int:
        """Untimed rounds at ``batch``: ``warmup / batch``, at least one unless ``warmup`` is 0."""
        return min(self.warmup, max(1, math.ceil(self.warmup / batch)))


def default_plan(quick: bool = False) -> LatencyPlan:
    """The plan of ``recalib audit`` (``quick``: two blocks, fewer rounds)."""
    plan = LatencyPlan()
    return replace(plan, blocks=QUICK_BLOCKS, iters=20) if quick else plan


def check_names(plan: LatencyPlan) -> None:
    """Fail fast, before minutes of work, on an unknown architecture or block name."""
    from deploy.candidates import parse_block
    from profiling.measure import load_library
    from recalib.errors import UnknownNameError
    from recalib.models import list_models
    from recalib.registry import BLOCKS

    load_library()
    for arch in plan.archs:
        if arch not in list_models():
            raise UnknownNameError("architecture", arch, list_models())
    for spec in plan.blocks:
        BLOCKS.get(parse_block(spec)[0])
