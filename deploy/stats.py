"""Latency statistics: robust summaries of one series and ratios of two alternating series.

Timings are skewed (a few slow outliers from other processes, page faults, frequency changes), so
every summary is built on order statistics: the median (p50) is the headline number, p90/p95/p99
and the maximum show the tail, and the ratio of two models is the ratio of their medians with a paired bootstrap
interval. Percentiles use linear interpolation between order statistics (numpy's default
``method="linear"``), so ``[1, 2, …, 10]`` has p90 = 9.1 and median 5.5.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from recalib.errors import BenchmarkError

__all__ = ["LatencyStats", "RatioStats", "summarize", "ratio"]

_BOOTSTRAP_RESAMPLES = 2000


@dataclass(frozen=True)
class LatencyStats:
    """Summary of ``n`` timed runs at one batch size, in the vocabulary of trtexec and
    benchmark_app; times in milliseconds.

    ``spread`` is the interquartile range divided by the median (0.05 = the middle half of the
    runs lies within 5% of the median); ``tail`` is p90 / p50; ``outliers`` counts the rounds
    beyond Tukey's upper fence (p75 + 1.5 IQR: a round another process or a page fault slowed);
    ``throughput`` is samples per second over the timed runs (``batch / mean``).
    :mod:`recalib.deploy.stability` judges from these whether the series is steady enough to read.
    """

    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    n: int
    spread: float
    batch: int
    throughput: float
    tail: float
    outliers: int

    @property
    def median_ms(self) -> float:
        return self.p50_ms

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


@dataclass(frozen=True)
class RatioStats:
    """``candidate / baseline`` latency from rounds measured alternately in the same run.

    ``ratio`` is the ratio of the two medians, ``ci_low``/``ci_high`` its 95% paired-bootstrap
    interval (rounds resampled together, so a slow moment of the machine hits both models);
    ``paired_p10``/``paired_median``/``paired_p90`` are quantiles of the per-round ratios;
    ``min_ratio`` compares the fastest runs, the estimate least touched by other processes when
    the machine is busy.
    """

    ratio: float
    ci_low: float
    ci_high: float
    paired_p10: float
    paired_median: float
    paired_p90: float
    min_ratio: float
    n: int

    @property
    def overhead_pct(self) -> float:
        """Extra latency of the candidate in percent (+11.0 means 11% slower)."""
        return (self.ratio - 1.0) * 100.0

    def to_dict(self) -> dict[str, float | int]:
        return {**asdict(self), "overhead_pct": self.overhead_pct}


def _as_times(times_ns: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    """Validate a series of durations in nanoseconds and return it in milliseconds."""
    arr = np.asarray(times_ns, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise BenchmarkError(f"{what}: need a non-empty 1-D series of timings, got shape {arr.shape}; "
                             f"run at least one timed iteration (iters >= 1)")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise BenchmarkError(f"{what}: timings must be finite and positive; the timer or the "
                             f"measured step is broken")
    return arr / 1e6


def summarize(times_ns: Sequence[float] | np.ndarray, batch: int = 1) -> LatencyStats:
    """Summarize durations of single runs (nanoseconds) measured at batch size ``batch``."""
    ms = _as_times(times_ns, "summarize")
    p25, p50, p75, p90, p95, p99 = (float(v) for v in np.percentile(ms, [25, 50, 75, 90, 95, 99]))
    mean = float(ms.mean())
    fence = p75 + 1.5 * (p75 - p25)
    return LatencyStats(p50_ms=p50, p90_ms=p90, p95_ms=p95, p99_ms=p99, mean_ms=mean, min_ms=float(ms.min()),
                        max_ms=float(ms.max()), n=int(ms.size), spread=(p75 - p25) / p50, batch=batch,
                        throughput=batch / (mean / 1e3), tail=p90 / p50, outliers=int(np.sum(ms > fence)))


def ratio(candidate_ns: Sequence[float] | np.ndarray, baseline_ns: Sequence[float] | np.ndarray,
          seed: int = 0) -> RatioStats:
    """Latency ratio ``candidate / baseline`` of two series timed alternately (round i of each paired)."""
    cand, base = _as_times(candidate_ns, "ratio candidate"), _as_times(baseline_ns, "ratio baseline")
    if cand.size != base.size:
        raise BenchmarkError(f"ratio: the series are not paired ({cand.size} vs {base.size} runs); "
                             f"time both models in the same alternating run")
    point = float(np.median(cand) / np.median(base))
    rng = np.random.default_rng(seed)
    rounds = rng.integers(0, cand.size, size=(_BOOTSTRAP_RESAMPLES, cand.size))
    boot = np.median(cand[rounds], axis=1) / np.median(base[rounds], axis=1)
    ci_low, ci_high = np.percentile(boot, [2.5, 97.5])
    p10, p50, p90 = np.percentile(cand / base, [10, 50, 90])
    return RatioStats(ratio=point, ci_low=float(ci_low), ci_high=float(ci_high),
                      paired_p10=float(p10), paired_median=float(p50), paired_p90=float(p90),
                      min_ratio=float(cand.min() / base.min()), n=int(cand.size))
