"""Build library models and measure them once, however many claims and conventions ask.

A :class:`Measurer` caches one :class:`Measurement` per :class:`~recalib.profiling.claims.papers.Build`:
per-category parameter counts always, per-category FLOP counts (one fvcore trace at the
build's input size, batch 1) when any caller needs them, and the recalibration blocks it
holds, grouped for the derivations of the claims report. Conventions are applied later by
the callers, so no model is built or traced twice.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from torch import nn

from recalib.profiling.claims.papers import Build
from recalib.profiling.counting.counts import count_module, count_params
from recalib.profiling.counting.scopes import recalibration_modules
from recalib.errors import RecalibError
from recalib.models import arch_entry, create_model

__all__ = ["BlockGroup", "Measurement", "Measurer", "build_model", "input_shape", "block_groups"]


def build_model(build: Build) -> nn.Module:
    """The library model ``build`` names, in eval mode."""
    model = create_model(build.arch, build.block, stages=build.stages, **dict(build.options))
    return model.eval()


def input_shape(build: Build) -> tuple[int, int, int, int]:
    """Batch-1 input at the build's input size (its ``input_size`` option, else the nominal one)."""
    spec = arch_entry(build.arch)
    size = dict(build.options).get("input_size", spec.input_size)
    height, width = (size, size) if isinstance(size, int) else size
    return (1, spec.in_channels, height, width)


@dataclass(frozen=True)
class BlockGroup:
    """``count`` consecutive blocks of one kind, width and bottleneck, and their parameter formula's values.

    ``width`` is the block's bottleneck: its hidden width, or ``C // reduction`` when it has a
    reduction and no hidden width of its own (None for blocks without one). Blocks of a group
    differ only in what the formula sees beyond ``C`` (e.g. a multi-stage source width).
    """

    kind: str
    count: int
    channels: int
    width: int | None
    smallest: int
    largest: int
    total: int

    def describe(self) -> str:
        """E.g. ``3 × C=256 (hidden 16): 8,464 each`` or ``16 × C=12 (hidden 4): 528–2,688 each``."""
        width = f" (hidden {self.width})" if self.width else ""
        each = f"{self.smallest:,}" if self.smallest == self.largest else f"{self.smallest:,}–{self.largest:,}"
        return f"{self.count} × C={self.channels}{width}: {each} each"


def _width(block: nn.Module) -> int | None:
    hidden = getattr(block, "hidden", None)
    if isinstance(hidden, int) and hidden > 0:
        return hidden
    reduction, channels = getattr(block, "reduction", None), getattr(block, "channels", None)
    return channels // reduction if isinstance(reduction, int) and isinstance(channels, int) else None


def block_groups(model: nn.Module) -> tuple[BlockGroup, ...]:
    """The model's recalibration blocks, consecutive ones of the same kind and widths grouped, in order."""
    groups: list[BlockGroup] = []
    for _, block in recalibration_modules(model):
        formula = getattr(block, "formula_params", None)
        each = int(formula()) if callable(formula) else sum(p.numel() for p in block.parameters())
        kind, channels, width = type(block).__name__, int(getattr(block, "channels", 0)), _width(block)
        last = groups[-1] if groups else None
        if last is not None and (last.kind, last.channels, last.width) == (kind, channels, width):
            groups[-1] = BlockGroup(kind, last.count + 1, channels, width, min(last.smallest, each),
                                    max(last.largest, each), last.total + each)
        else:
            groups.append(BlockGroup(kind, 1, channels, width, each, each, each))
    return tuple(groups)


@dataclass
class Measurement:
    """Root-module counts of one build; ``error`` is set (and counts empty) if it failed to build."""

    build: Build
    params: Counter = field(default_factory=Counter)
    flops: Counter | None = None
    unsupported: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    error: str | None = None
    blocks: tuple[BlockGroup, ...] = ()


class Measurer:
    """Caches measurements by build.

    ``trace`` names the builds some caller will want FLOPs of: they are traced on their first
    build, so a build asked for its parameters first is not built a second time later.
    """

    def __init__(self, trace: Iterable[Build] = ()) -> None:
        self._cache: dict[Build, Measurement] = {}
        self._trace: set[Build] = set()
        self.trace(trace)

    def trace(self, builds: Iterable[Build]) -> None:
        """Mark ``builds`` as wanted with FLOPs: traced when first built."""
        self._trace.update(build.canonical() for build in builds)

    def __len__(self) -> int:
        return len(self._cache)

    def unsupported(self) -> Counter:
        """Ops no handle covered, over every traced build (empty means no FLOP was missed)."""
        total: Counter = Counter()
        for measurement in self._cache.values():
            total.update(measurement.unsupported)
        return total

    def get(self, build: Build, flops: bool = False) -> Measurement:
        """The measurement of ``build`` (traced when ``flops`` is requested and not yet done)."""
        build = build.canonical()
        cached = self._cache.get(build)
        if cached is not None and (cached.error or not flops or cached.flops is not None):
            return cached
        measurement = self._measure(build, flops or build in self._trace)
        self._cache[build] = measurement
        return measurement

    @staticmethod
    def _measure(build: Build, flops: bool) -> Measurement:
        start = time.perf_counter()
        try:
            model = build_model(build)
        except RecalibError as exc:
            return Measurement(build, error=f"{type(exc).__name__}: {exc}")
        groups = block_groups(model)
        if not flops:
            params = count_params(model)[""]
            return Measurement(build, params, seconds=time.perf_counter() - start, blocks=groups)
        try:
            counts = count_module(model, input_shape(build))
        except Exception as exc:  # noqa: BLE001 - one model that cannot run must not sink the audit
            return Measurement(build, count_params(model)[""], error=f"{type(exc).__name__}: {exc}", blocks=groups)
        return Measurement(build, counts.params[""], counts.flops[""], counts.unsupported,
                           time.perf_counter() - start, blocks=groups)
