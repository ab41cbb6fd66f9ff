"""The timing loop: run compared steps in alternation (A B A B …) and time each call.

Alternating puts every model under the same machine conditions: when another process wakes up
or the CPU clocks down, both models' rounds see it, so their ratio stays honest even when the
absolute numbers drift. The garbage collector is paused while timing so a collection of one
model's garbage is not billed to the other.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence

import numpy as np

from recalib.errors import BenchmarkError

__all__ = ["Step", "alternating_schedule", "time_alternating"]

Step = Callable[[], None]
"""One synchronous inference: returns only when the result is ready (GPU work included)."""


def alternating_schedule(n_steps: int, rounds: int) -> list[int]:
    """Indices of the steps to call: ``[0, 1, …, n-1]`` repeated ``rounds`` times."""
    return list(range(n_steps)) * rounds


def time_alternating(steps: Sequence[Step], warmup: int, iters: int) -> list[np.ndarray]:
    """Call ``steps`` alternately, ``warmup`` untimed rounds then ``iters`` timed ones.

    Returns one array per step of ``iters`` durations in nanoseconds; entry ``i`` of every
    array comes from the same round, so the series are paired.
    """
    if not steps:
        raise BenchmarkError("nothing to time: pass at least one step")
    if warmup < 0 or iters < 1:
        raise BenchmarkError(f"need warmup >= 0 and iters >= 1, got warmup={warmup}, iters={iters}")
    for index in alternating_schedule(len(steps), warmup):
        steps[index]()
    times: np.ndarray = np.empty((len(steps), iters), dtype=np.int64)
    schedule = alternating_schedule(len(steps), iters)
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for position, index in enumerate(schedule):
            start = time.perf_counter_ns()
            steps[index]()
            times[index, position // len(steps)] = time.perf_counter_ns() - start
    finally:
        if gc_was_enabled:
            gc.enable()
    return list(times)
