"""What a latency measurement is asked to do, validated in one place before any work.

:func:`check_timing` is the one validator of batch sizes, rounds and threads: the bench's
:class:`BenchSettings` and the audit's plan both call it, so the same mistake gets the same
message wherever it is made.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recalib.deploy.machine_info import available_cores
from recalib.deploy.runner_options import RunnerOptions, check_threads
from recalib.deploy.target import Target, onnx_runtimes
from recalib.export.options import DEFAULT_TOLERANCE, check_tolerance
from recalib.errors import ConfigError, quote
from recalib.infra.memory import available_memory, format_bytes

__all__ = ["BenchSettings", "check_timing", "DEFAULT_RUNTIME"]

DEFAULT_RUNTIME = "ort-cpu"
_BYTES_PER_ROUND = 8 * 2  # one float64 per timed round of each of the (at least two) series held at once


def _is_count(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def check_timing(batches: Sequence[int], iters: int, warmup: int, threads: int | None, repeat: int = 1,
                 duration: float | None = None) -> None:
    """Raise :class:`ConfigError` unless batches >= 1 (at least one, none twice), iters >= 1 with its timing
    arrays fitting in memory, warmup >= 0, threads from 1 to the cores available, repeat >= 1 and a
    duration, where given, > 0 seconds."""
    if not batches or not all(_is_count(b, 1) for b in batches):
        raise ConfigError(f"batch sizes must be integers >= 1 (at least one), got {quote(list(batches))}")
    twice = sorted({b for b in batches if list(batches).count(b) > 1})
    if twice:
        raise ConfigError(f"batch size(s) {', '.join(map(str, twice))} given twice; give each batch size once")
    if not _is_count(iters, 1) or not _is_count(warmup, 0):
        raise ConfigError(f"need iters >= 1 and warmup >= 0, got iters {quote(iters)} and warmup {quote(warmup)}")
    timings = iters * _BYTES_PER_ROUND
    available = available_memory()
    if available is not None and timings > available:
        raise ConfigError(f"{iters} timed rounds need {format_bytes(timings)} for their timings alone, but "
                          f"{format_bytes(available)} is available here; give fewer --iters")
    if not _is_count(repeat, 1):
        raise ConfigError(f"repeat counts fresh worker processes: an integer >= 1, got {quote(repeat)}")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                 or not 0 < duration < float("inf")):
        raise ConfigError(f"duration is seconds of timed rounds per batch, a number > 0, got {quote(duration)}")
    check_threads(threads)


@dataclass(frozen=True)
class BenchSettings:
    """Targets, batches, rounds, threads and the parity tolerance of one comparison.

    ``threads`` None means the cores this process may use; it is every runner's thread count.
    ``runtime_options`` are the other :class:`~recalib.deploy.runner_options.RunnerOptions` of a
    runtime's runners (e.g. ``{"ort-cpu": RunnerOptions(spinning=False)}``). ``isolate`` runs
    each target in a fresh worker process (so thread pools never compete).
    """

    targets: tuple[Target, ...] = (Target.parse(DEFAULT_RUNTIME),)
    batches: tuple[int, ...] = (1,)
    warmup: int = 10
    iters: int = 50
    threads: int | None = None
    tolerance: float = DEFAULT_TOLERANCE
    runtime_options: Mapping[str, RunnerOptions] = field(default_factory=dict)
    isolate: bool = True
    duration: float | None = None
    repeat: int = 1
    inputs: Path | None = None

    def __post_init__(self) -> None:
        if not self.targets:
            raise ConfigError("choose at least one runtime")
        check_timing(self.batches, self.iters, self.warmup, self.threads, self.repeat, self.duration)
        check_tolerance(self.tolerance)
        unknown = sorted(set(self.runtime_options) - {t.runtime for t in self.targets})
        if unknown:
            raise ConfigError(f"options given for runtime(s) {', '.join(unknown)}, which are not measured")
        if any(options.threads is not None for options in self.runtime_options.values()):
            raise ConfigError("threads are one setting of the whole comparison (BenchSettings.threads), "
                              "not of a runtime's options")
        if self.threads is None:
            object.__setattr__(self, "threads", available_cores())

    @property
    def onnx_runtimes(self) -> list[str]:
        """The measured runtimes that run exported files (:func:`recalib.deploy.target.onnx_runtimes`)."""
        return onnx_runtimes(self.targets)

    def options_for(self, target: Target) -> RunnerOptions:
        """The options of ``target``'s runners: its runtime's, with the comparison's threads."""
        return replace(self.runtime_options.get(target.runtime, RunnerOptions()), threads=self.threads)

    def to_dict(self) -> dict[str, Any]:
        return {"runtimes": [t.name for t in self.targets], "batches": list(self.batches),
                "warmup": self.warmup, "iters": self.iters, "threads": self.threads,
                "tolerance": self.tolerance,
                "runtime_options": {k: v.to_dict() for k, v in self.runtime_options.items()},
                "duration": self.duration, "repeat": self.repeat,
                "inputs": None if self.inputs is None else str(self.inputs), "alternated": True, "isolated": self.isolate}
