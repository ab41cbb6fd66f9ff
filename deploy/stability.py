"""When a latency series is too unsteady to read as a result: the thresholds, in one place, and the verdict.

A series is *noisy* when any of these is true (the README's "Noisy measurements" gives the
run-to-run data they were chosen from):

- the middle half of its rounds is wider than :data:`SPREAD_LIMIT` of the median (IQR / p50);
- its p90 is more than :data:`TAIL_LIMIT` times its p50 (a slow tail: other processes woke up);
- more than :data:`OUTLIER_LIMIT` of its rounds lie beyond Tukey's fence (p75 + 1.5 IQR);
- its overhead's 95% interval is wider than :data:`INTERVAL_LIMIT` of the ratio (the within-run
  resolution is coarser than the effects a block has);
- the 1-minute load average before or after its timing exceeded :data:`LOAD_LIMIT` per core
  available (others competed for the cores the worker timed on);
- its overheads from fresh worker processes (``--repeat``) differ by more than
  :data:`REPEAT_LIMIT` points (the run-to-run variation the within-run interval does not cover).

A noisy number is still printed, with its reasons beside it: hiding it would hide the machine's state.
"""
from __future__ import annotations

from collections.abc import Sequence

from recalib.deploy.stats import LatencyStats, RatioStats

__all__ = ["SPREAD_LIMIT", "TAIL_LIMIT", "OUTLIER_LIMIT", "INTERVAL_LIMIT", "LOAD_LIMIT", "REPEAT_LIMIT",
           "noise_reasons", "intervals_overlap"]

# From the committed quiet recordings (benchmarks/results/overhead-amd-epyc-2c-2026-12-05*.json, 96
# series each, load 1.0-2.2 on 2 cores) against runs at load 3.4-8.9 here: see the README.
SPREAD_LIMIT = 0.10  # quiet: 1 thread p90 1.9%, max 4.9%; 2 threads p90 5-17%. Loaded: median ~100%.
TAIL_LIMIT = 1.3  # quiet: max 1.17. Loaded: 1.4-23 (the 4.5).
OUTLIER_LIMIT = 0.20  # quiet: 1 thread max 17%, 2 threads p90 15%. Loaded onnxruntime: 20-25%.
INTERVAL_LIMIT = 0.10  # quiet: 1 thread max 4.3%, 2 threads p90 6.5%. Loaded: 6%-296%.
LOAD_LIMIT = 1.25  # quiet: at most 1.08 per core (the worker's own threads). Loaded: 1.7-4.5.
REPEAT_LIMIT = 3.0  # quiet: two recordings' overheads differ by 1.1 points (median), 2.2 (p75).


def _series_reasons(stats: LatencyStats) -> list[str]:
    reasons = []
    if stats.spread > SPREAD_LIMIT:
        reasons.append(f"spread {stats.spread:.0%} > {SPREAD_LIMIT:.0%}")
    if stats.tail > TAIL_LIMIT:
        reasons.append(f"p90/p50 {stats.tail:.2f} > {TAIL_LIMIT:g}")
    if stats.outliers > OUTLIER_LIMIT * stats.n:
        reasons.append(f"{stats.outliers}/{stats.n} outlier rounds")
    return reasons


def noise_reasons(stats: LatencyStats, ratio: RatioStats | None, load: Sequence[float] | None, cores: int | None,
                  repeats: Sequence[float] = ()) -> tuple[str, ...]:
    """Why one series (``stats``, its ``ratio`` to the baseline, the load before and after its timing
    on ``cores`` cores, its overhead in each repeat run) is noisy; empty when it is steady."""
    reasons = _series_reasons(stats)
    if ratio is not None and (ratio.ci_high - ratio.ci_low) > INTERVAL_LIMIT * ratio.ratio:
        reasons.append(f"95% interval {(ratio.ci_high - ratio.ci_low) / ratio.ratio:.0%} of the ratio "
                       f"> {INTERVAL_LIMIT:.0%}")
    if load and cores and max(load) > LOAD_LIMIT * cores:
        reasons.append(f"load {max(load):.1f} on {cores} cores > {LOAD_LIMIT:g} per core")
    if len(repeats) > 1 and max(repeats) - min(repeats) > REPEAT_LIMIT:
        reasons.append(f"repeat runs differ by {max(repeats) - min(repeats):.1f} points > {REPEAT_LIMIT:g}")
    return tuple(reasons)


def intervals_overlap(first: tuple[float, float], second: tuple[float, float]) -> bool:
    """Whether two closed intervals share a point: two overheads whose intervals do are not told apart."""
    return first[0] <= second[1] and second[0] <= first[1]
