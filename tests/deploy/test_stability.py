"""The noisy verdict (``recalib.deploy.stability``) on series with known spreads, tails, outliers, loads and repeats."""
from __future__ import annotations

import numpy as np
import pytest

from recalib.deploy import stability
from recalib.deploy.repeats import pool_repeats
from recalib.deploy.results import Measurement
from recalib.deploy.stats import ratio, summarize
from recalib.errors import BenchmarkError

MS = 1_000_000  # nanoseconds per millisecond


def _steady(n: int = 40, seed: int = 0) -> np.ndarray:
    """Rounds within ±1% of 10 ms."""
    return np.random.default_rng(seed).uniform(9.9, 10.1, size=n) * MS


def test_a_steady_series_and_its_ratio_are_not_noisy() -> None:
    base, cand = _steady(), _steady(seed=1) * 1.1
    assert stability.noise_reasons(summarize(cand), ratio(cand, base), (0.5, 0.6), 2) == ()


def test_injected_outlier_rounds_are_counted_and_mark_the_series_beyond_the_limit() -> None:
    series = _steady()
    series[:1] *= 5  # one slow round: counted, not enough to mark the series
    one = summarize(series)
    assert one.outliers == 1 and stability.noise_reasons(one, None, None, None) == ()
    series[1:9] *= 1.2  # eight more, mildly slow: nine of forty (22% > 20%), yet p90/p50 stays below its limit
    nine = summarize(series)
    assert nine.outliers == 9 and nine.tail == pytest.approx(1.2, abs=0.03)
    assert stability.noise_reasons(nine, None, None, None) == ("9/40 outlier rounds",)


def test_a_slow_tail_and_a_wide_spread_are_each_named() -> None:
    series = _steady()
    series[::3] *= 2  # every third round twice as slow: p90 = 2 x p50, and the quartiles far apart
    reasons = stability.noise_reasons(summarize(series), None, None, None)
    assert reasons[0].startswith("spread") and reasons[1].startswith("p90/p50 2.0")
    assert reasons[1].endswith(f"> {stability.TAIL_LIMIT:g}")


def test_a_wide_interval_a_busy_machine_and_disagreeing_repeats_are_noise() -> None:
    base = _steady(20)
    cand = base * np.random.default_rng(2).uniform(0.6, 1.8, size=20)  # the ratio wanders round by round
    stats, ratios = summarize(base), ratio(cand, base)
    assert any(r.startswith("95% interval") for r in stability.noise_reasons(stats, ratios, None, None))
    assert stability.noise_reasons(stats, None, (0.4, 3.1), 2) == ("load 3.1 on 2 cores > 1.25 per core",)
    assert stability.noise_reasons(stats, None, None, None, (4.0, 9.0)) == (
        "repeat runs differ by 5.0 points > 3",)
    assert stability.noise_reasons(stats, None, None, None, (4.0, 6.0)) == ()


def _measurement(label: str, times_ns: np.ndarray, base_ns: np.ndarray | None, load: float) -> Measurement:
    return Measurement("ort-cpu", 1, label, summarize(times_ns), None if base_ns is None else ratio(times_ns, base_ns),
                       tuple(times_ns / 1e6), (load, load), 2, baseline=None if base_ns is None else "plain")


def test_repeat_runs_pool_their_rounds_and_keep_each_runs_overhead() -> None:
    runs = []
    for scale, load in ((1.10, 0.5), (1.20, 0.9)):  # +10% in the first process, +20% in the second
        base = _steady(seed=int(scale * 10))
        runs.append([_measurement("plain", base, None, load), _measurement("se", base * scale, base, load)])
    plain, se = pool_repeats(runs)
    assert plain.stats.n == se.stats.n == 80 and plain.repeats == () and plain.load == (0.9, 0.9)
    assert se.repeats == (pytest.approx(10.0), pytest.approx(20.0)) and se.repeat_range() == se.repeats
    assert 10.0 < se.overhead_pct < 20.0  # type: ignore[operator]
    assert "repeat runs differ by 10.0 points > 3" in se.noise and se.row()["repeat_overheads_pct"] == "10.00 20.00"
    with pytest.raises(BenchmarkError, match="different series"):
        pool_repeats([runs[0], runs[1][:1]])
