"""Typed results of a latency comparison, from the timing worker to the reports and plots.

A :class:`Measurement` is one model on one target at one batch size: its statistics, its ratio
to the baseline timed in the same run, every round's time, the machine's load around its timing
and, for repeated runs, its overhead in each; :attr:`Measurement.noise` says why it is noisy
(:mod:`recalib.deploy.stability`). A :class:`BenchResult` holds
every measurement of a comparison with the parity checks, the models, the settings and the
machine; ``to_json`` is what ``recalib bench -o`` writes.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from recalib.deploy.machine_info import MachineInfo
from recalib.deploy.settings import BenchSettings
from recalib.deploy.stability import noise_reasons
from recalib.deploy.stats import LatencyStats, RatioStats
from recalib.export.parity import ParityCheck
from recalib.errors import BenchmarkError

__all__ = ["Measurement", "ModelEntry", "BenchResult"]


@dataclass(frozen=True)
class Measurement:
    """One model on one target at one batch; ``ratio`` is None for the baseline.

    ``load``: the 1-minute load average before and after the timing, on ``cores`` cores available;
    ``repeats``: the overhead (percent) of each fresh worker process when the run was repeated
    (the rounds of all of them are pooled in ``stats``, ``ratio`` and ``times_ms``); ``baseline``:
    the label of the model ``ratio`` is against.
    """

    target: str
    batch: int
    label: str
    stats: LatencyStats
    ratio: RatioStats | None
    times_ms: tuple[float, ...]
    load: tuple[float, float] | None = None
    cores: int | None = None
    repeats: tuple[float, ...] = ()
    baseline: str | None = None

    @property
    def overhead_pct(self) -> float | None:
        return None if self.ratio is None else self.ratio.overhead_pct

    @property
    def noise(self) -> tuple[str, ...]:
        """Why this series is noisy (empty: steady), by :func:`recalib.deploy.stability.noise_reasons`."""
        return noise_reasons(self.stats, self.ratio, self.load, self.cores, self.repeats)

    @property
    def noisy(self) -> bool:
        return bool(self.noise)

    def repeat_range(self) -> tuple[float, float] | None:
        """The least and greatest overhead of the repeat runs (None: not repeated, or the baseline)."""
        return (min(self.repeats), max(self.repeats)) if len(self.repeats) > 1 else None

    def interval_pct(self) -> tuple[float, float] | None:
        """The overhead's 95% interval in percent (None for the baseline)."""
        if self.ratio is None:
            return None
        return (self.ratio.ci_low - 1) * 100, (self.ratio.ci_high - 1) * 100

    def row(self) -> dict[str, Any]:
        """A flat record for CSV files: statistics and overhead columns (percent)."""
        interval = self.interval_pct()
        return {"runtime": self.target, "batch": self.batch, "model": self.label,
                **{k: v for k, v in self.stats.to_dict().items() if k != "batch"},
                "overhead_pct": self.overhead_pct,
                "overhead_ci_low_pct": None if interval is None else interval[0],
                "overhead_ci_high_pct": None if interval is None else interval[1],
                "min_overhead_pct": None if self.ratio is None else (self.ratio.min_ratio - 1) * 100,
                "repeat_overheads_pct": " ".join(f"{v:.2f}" for v in self.repeats) or None,
                "load_before": None if self.load is None else self.load[0],
                "load_after": None if self.load is None else self.load[1],
                "noisy": self.noisy, "noise": "; ".join(self.noise) or None}

    def to_dict(self, times: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"runtime": self.target, "batch": self.batch, "model": self.label,
                                "baseline": self.baseline,
                                "stats": self.stats.to_dict(),
                                "ratio": None if self.ratio is None else self.ratio.to_dict(),
                                "load": self.load, "cores": self.cores, "repeats": list(self.repeats),
                                "noisy": self.noisy, "noise": list(self.noise)}
        if times:
            data["times_ms"] = list(self.times_ms)
        return data


@dataclass(frozen=True)
class ModelEntry:
    """A compared model: its label, its specification, its input, the file the user gave, how it was
    verified, and which export each ONNX runtime timed where they differ (runtime -> ``"plain"``,
    ``"optimised for openvino"`` …)."""

    label: str
    source: str
    input_chw: tuple[int, ...]
    file: str | None
    verified: str
    exports: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchResult:
    """Everything one comparison measured (the first model is the baseline); ``runtime_settings``:
    what each target's runtime reports it ran (e.g. OpenVINO's precision), by target name."""

    machine: MachineInfo
    settings: BenchSettings
    models: tuple[ModelEntry, ...]
    measurements: tuple[Measurement, ...]
    parity: tuple[ParityCheck, ...]
    load_average_end: tuple[float, float, float] | None
    runtime_settings: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def baseline(self) -> str:
        return self.models[0].label

    def get(self, target: str, batch: int, label: str) -> Measurement:
        for m in self.measurements:
            if (m.target, m.batch, m.label) == (target, batch, label):
                return m
        raise BenchmarkError(f"no measurement of {label!r} on {target} at batch {batch}")

    def parity_of(self, target: str, label: str) -> ParityCheck | None:
        return next((p for p in self.parity if (p.runtime, p.label) == (target, label)), None)

    def to_json(self, times: bool = False) -> dict[str, Any]:
        """JSON-ready; ``times`` adds every timed round (milliseconds) to each measurement."""
        return {"machine": self.machine.to_dict(), "settings": self.settings.to_dict(),
                "baseline": self.baseline, "models": [asdict(m) for m in self.models],
                "parity": [{**asdict(p), "passed": p.passed} for p in self.parity],
                "measurements": [m.to_dict(times) for m in self.measurements],
                "load_average_end": self.load_average_end, "runtime_settings": self.runtime_settings}
