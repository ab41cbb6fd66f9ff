"""Build library models and measure them once, however many claims and conventions ask.

A :class:`Measurer` caches one :class:`Measurement` per :class:`~profiling.claims.Build`:
per-category parameter counts always, per-category FLOP counts (one fvcore trace at the
architecture's nominal input size, batch 1) when any caller needs them. Conventions are
applied later by the callers, so no model is built or traced twice.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from torch import nn

from profiling.claims import Build
from profiling.counting import count_module, count_params
from recalib.errors import RecalibError

__all__ = ["Measurement", "Measurer", "build_model", "input_shape", "load_library"]


def load_library() -> None:
    """Register every block and model (``recalib.models`` alone does not import the blocks)."""
    import recalib.blocks  # noqa: F401
    import recalib.models  # noqa: F401


def build_model(build: Build) -> nn.Module:
    """The library model ``build`` names, in eval mode."""
    load_library()
    from recalib.models import create_model
    model = create_model(build.arch, build.block, stages=build.stages, **dict(build.options))
    return model.eval()


def input_shape(build: Build) -> tuple[int, int, int, int]:
    """Batch-1 input at the build's input size (its ``input_size`` option, else the nominal one)."""
    load_library()
    from recalib.models import model_spec
    spec = model_spec(build.arch)
    size = dict(build.options).get("input_size", spec.input_size)
    height, width = (size, size) if isinstance(size, int) else size
    return (1, spec.in_channels, height, width)


@dataclass
class Measurement:
    """Root-module counts of one build; ``error`` is set (and counts empty) if it failed to build."""

    build: Build
    params: Counter = field(default_factory=Counter)
    flops: Counter | None = None
    unsupported: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    error: str | None = None


class Measurer:
    """Caches measurements by build.

    ``trace`` names the builds some caller will want FLOPs of: they are traced on their first
    build, so a build asked for its parameters first is not built a second time later.
    """

    def __init__(self, trace: Iterable[Build] = ()) -> None:
        self._cache: dict[Build, Measurement] = {}
        self._trace = set(trace)

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
        if not flops:
            params = count_params(model)[""]
            return Measurement(build, params, seconds=time.perf_counter() - start)
        try:
            counts = count_module(model, input_shape(build))
        except Exception as exc:  # noqa: BLE001 - one model that cannot run must not sink the audit
            return Measurement(build, count_params(model)[""], error=f"{type(exc).__name__}: {exc}")
        return Measurement(build, counts.params[""], counts.flops[""], counts.unsupported,
                           time.perf_counter() - start)
