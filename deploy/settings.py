"""What a latency measurement is asked to do, validated in one place before any work.

:func:`check_timing` is the one validator of batch sizes, rounds and threads: the bench's
:class:`BenchSettings` and the audit's plan both call it, so the same mistake gets the same
message wherever it is made.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from recalib.deploy.machine_info import available_cores
from recalib.deploy.target import Target, onnx_runtimes
from recalib.export.options import DEFAULT_TOLERANCE, check_tolerance
from recalib.errors import ConfigError

__all__ = ["BenchSettings", "check_timing"]


def _is_count(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def check_timing(batches: Sequence[int], iters: int, warmup: int, threads: int | None) -> None:
    """Raise :class:`ConfigError` unless batches >= 1 (at least one), iters >= 1, warmup >= 0, threads >= 1."""
    if not batches or not all(_is_count(b, 1) for b in batches):
        raise ConfigError(f"batch sizes must be integers >= 1 (at least one), got {list(batches)}")
    if not _is_count(iters, 1) or not _is_count(warmup, 0):
        raise ConfigError(f"need iters >= 1 and warmup >= 0, got iters {iters!r} and warmup {warmup!r}")
    if threads is not None and not _is_count(threads, 1):
        raise ConfigError(f"threads must be an integer >= 1, got {threads!r}")


@dataclass(frozen=True)
class BenchSettings:
    """Targets, batches, rounds, threads and the parity tolerance of one comparison.

    ``threads`` None means the cores this process may use. ``runtime_options`` are passed to
    the runners of a runtime (e.g. ``{"ort-cpu": {"spinning": False}}``). ``isolate`` runs
    each target in a fresh worker process (so thread pools never compete).
    """

    targets: tuple[Target, ...]
    batches: tuple[int, ...] = (1,)
    warmup: int = 10
    iters: int = 50
    threads: int | None = None
    tolerance: float = DEFAULT_TOLERANCE
    runtime_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    isolate: bool = True

    def __post_init__(self) -> None:
        if not self.targets:
            raise ConfigError("choose at least one runtime")
        check_timing(self.batches, self.iters, self.warmup, self.threads)
        check_tolerance(self.tolerance)
        unknown = sorted(set(self.runtime_options) - {t.runtime for t in self.targets})
        if unknown:
            raise ConfigError(f"options given for runtime(s) {', '.join(unknown)}, which are not measured")
        if self.threads is None:
            object.__setattr__(self, "threads", available_cores())

    @property
    def onnx_runtimes(self) -> list[str]:
        """The measured runtimes that run exported files (:func:`recalib.deploy.target.onnx_runtimes`)."""
        return onnx_runtimes(self.targets)

    def options_for(self, target: Target) -> dict[str, Any]:
        return dict(self.runtime_options.get(target.runtime, {}))

    def to_dict(self) -> dict[str, Any]:
        return {"runtimes": [t.name for t in self.targets], "batches": list(self.batches),
                "warmup": self.warmup, "iters": self.iters, "threads": self.threads,
                "tolerance": self.tolerance, "runtime_options": {k: dict(v) for k, v in self.runtime_options.items()},
                "alternated": True, "isolated": self.isolate}
