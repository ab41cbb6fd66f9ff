"""Latency statistics on synthetic timings with exactly known answers."""
from __future__ import annotations

import numpy as np
import pytest

from recalib.deploy.stats import ratio, summarize
from recalib.errors import BenchmarkError

MS = 1_000_000  # nanoseconds per millisecond


def test_summary_of_one_to_ten_ms_has_exact_order_statistics() -> None:
    stats = summarize([k * MS for k in range(10, 0, -1)], batch=4)
    assert stats.p50_ms == stats.median_ms == pytest.approx(5.5)
    assert stats.p90_ms == pytest.approx(9.1)
    assert stats.p95_ms == pytest.approx(9.55)
    assert stats.p99_ms == pytest.approx(9.91)
    assert stats.mean_ms == pytest.approx(5.5)
    assert (stats.min_ms, stats.max_ms) == (pytest.approx(1.0), pytest.approx(10.0))
    assert stats.n == 10
    assert stats.spread == pytest.approx((7.75 - 3.25) / 5.5)
    assert stats.throughput == pytest.approx(4 / 5.5e-3)  # samples per second over the timed runs


def test_median_of_odd_series_ignores_outliers() -> None:
    stats = summarize([2 * MS, 2 * MS, 3 * MS, 2 * MS, 500 * MS])
    assert stats.median_ms == pytest.approx(2.0)
    assert stats.min_ms == pytest.approx(2.0)


def test_constant_series_has_zero_spread() -> None:
    stats = summarize([5 * MS] * 7)
    assert (stats.median_ms, stats.p99_ms, stats.max_ms, stats.spread) == (5.0, 5.0, 5.0, 0.0)


def test_ratio_of_a_series_scaled_by_1_25_is_exact_with_a_tight_interval() -> None:
    base = np.array([10, 12, 11, 13, 10, 30, 11, 12], dtype=float) * MS
    result = ratio(base * 1.25, base)
    assert result.ratio == pytest.approx(1.25)
    assert result.ci_low == pytest.approx(1.25) and result.ci_high == pytest.approx(1.25)
    assert result.paired_median == pytest.approx(1.25) and result.min_ratio == pytest.approx(1.25)
    assert result.overhead_pct == pytest.approx(25.0)
    assert result.to_dict()["overhead_pct"] == pytest.approx(25.0)


def test_ratio_interval_contains_the_point_estimate_and_is_reproducible() -> None:
    rng = np.random.default_rng(3)
    base = rng.uniform(9, 11, size=60) * MS
    cand = base * rng.uniform(1.05, 1.15, size=60)
    first, second = ratio(cand, base), ratio(cand, base)
    assert first == second
    assert first.ci_low <= first.ratio <= first.ci_high
    assert 1.0 < first.paired_p10 <= first.paired_median <= first.paired_p90 < 1.2


def test_unpaired_or_empty_or_nonpositive_series_are_refused() -> None:
    with pytest.raises(BenchmarkError, match="not paired"):
        ratio([1 * MS, 2 * MS], [1 * MS])
    with pytest.raises(BenchmarkError, match="non-empty"):
        summarize([])
    with pytest.raises(BenchmarkError, match="positive"):
        summarize([1 * MS, 0])
