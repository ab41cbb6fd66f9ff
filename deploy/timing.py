"""The timing loop: run compared steps in alternation (A B A B …) and time each call.

Alternating puts every model under the same machine conditions: when another process wakes up
or the CPU clocks down, both models' rounds see it, so their ratio stays honest even when the
absolute numbers drift. The garbage collector is paused while timing so a collection of one
model's garbage is not billed to the other. A run is a number of rounds (``iters``) or a time
(``duration``, like trtexec's ``--duration`` and benchmark_app's ``-t``): rounds go on until it has
passed, :data:`MIN_TIMED_ROUNDS` at least.
"""
from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence

import numpy as np

from recalib.errors import BenchmarkError

__all__ = ["Step", "MIN_TIMED_ROUNDS", "alternating_schedule", "time_alternating"]

MIN_TIMED_ROUNDS = 3
"""Rounds a timed run makes at least, however short its duration: fewer have no spread to judge."""

Step = Callable[[], None]
"""One synchronous inference: returns only when the result is ready (GPU work included)."""


def alternating_schedule(n_steps: int, rounds: int) -> list[int]:
    """Indices of the steps to call: ``[0, 1, …, n-1]`` repeated ``rounds`` times."""
    return list(range(n_steps)) * rounds


def _timed_round(steps: Sequence[Step]) -> list[int]:
    """One round: every step once, in order, each call's duration in nanoseconds."""
    durations = []
    for step in steps:
        start = time.perf_counter_ns()
        step()
        durations.append(time.perf_counter_ns() - start)
    return durations


def time_alternating(steps: Sequence[Step], warmup: int, iters: int, duration: float | None = None) -> list[np.ndarray]:
    """Call ``steps`` alternately, ``warmup`` untimed rounds then ``iters`` timed ones (or, given
    ``duration``, timed rounds until that many seconds have passed).

    Returns one array per step of durations in nanoseconds; entry ``i`` of every array comes
    from the same round, so the series are paired.
    """
    if not steps:
        raise BenchmarkError("nothing to time: pass at least one step")
    if warmup < 0 or iters < 1 or (duration is not None and not duration > 0):
        raise BenchmarkError(f"need warmup >= 0, iters >= 1 and a duration > 0, got warmup={warmup}, "
                             f"iters={iters}, duration={duration}")
    for index in alternating_schedule(len(steps), warmup):
        steps[index]()
    rounds: list[list[int]] = []
    gc.collect()
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        deadline = None if duration is None else time.perf_counter() + duration
        while (len(rounds) < iters if deadline is None
               else len(rounds) < MIN_TIMED_ROUNDS or time.perf_counter() < deadline):
            rounds.append(_timed_round(steps))
    finally:
        if gc_was_enabled:
            gc.enable()
    return list(np.array(rounds, dtype=np.int64).T)
