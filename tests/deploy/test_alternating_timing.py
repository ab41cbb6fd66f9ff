"""The timing loop alternates the compared steps and pairs their rounds."""
from __future__ import annotations

import time

import pytest

from recalib.deploy.timing import alternating_schedule, time_alternating
from recalib.errors import BenchmarkError


def test_schedule_is_round_robin() -> None:
    assert alternating_schedule(3, 2) == [0, 1, 2, 0, 1, 2]


def test_steps_run_a_b_a_b_in_warmup_and_timed_rounds() -> None:
    calls: list[str] = []
    steps = [lambda: calls.append("A"), lambda: calls.append("B")]
    times = time_alternating(steps, warmup=2, iters=3)
    assert calls == ["A", "B"] * 5
    assert [len(t) for t in times] == [3, 3]


def test_each_series_times_its_own_step() -> None:
    """A sleep lasts at least its duration, so swapped series would break the lower bound."""
    steps = [lambda: time.sleep(0.001), lambda: time.sleep(0.005)]
    fast, slow = time_alternating(steps, warmup=0, iters=5)
    assert fast.min() >= 1_000_000 and slow.min() >= 5_000_000


def test_bad_counts_are_refused() -> None:
    with pytest.raises(BenchmarkError):
        time_alternating([lambda: None], warmup=0, iters=0)
    with pytest.raises(BenchmarkError):
        time_alternating([], warmup=1, iters=1)
