"""Repeat runs pooled into one measurement, each run's overhead kept as the run-to-run spread.

A within-run interval says how well one run's rounds pin the ratio down; it does not cover what
changes between runs (a fresh process's memory layout, thread placement, another process's
phase), which on a shared 2-core machine moved a ResNet-50 + SE overhead from +3.4% [3.3, 3.6] to
+4.8% [4.2, 5.4]. Repeating the run in fresh worker processes shows that variation: the rounds of
all runs are pooled (round ``i`` of each run stays paired, so the paired bootstrap still
holds) and each run's own overhead is kept in :attr:`~recalib.deploy.results.Measurement.repeats`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from recalib.deploy.results import Measurement
from recalib.deploy.stats import ratio, summarize
from recalib.errors import BenchmarkError

__all__ = ["pool_repeats"]


def _key(m: Measurement) -> tuple[str, int, str]:
    return m.target, m.batch, m.label


def pool_repeats(runs: Sequence[Sequence[Measurement]]) -> list[Measurement]:
    """One measurement per series of ``runs`` (each run's measurements of the same series, in the
    same order): rounds pooled, statistics and ratio recomputed, each run's overhead in ``repeats``,
    the load the highest before and after any run. One run is returned as it is."""
    if len(runs) == 1:
        return list(runs[0])
    if len({tuple(map(_key, run)) for run in runs}) != 1:
        raise BenchmarkError("repeat runs measured different series; they cannot be pooled")
    pooled_ns = {_key(same[0]): np.concatenate([np.asarray(m.times_ms) for m in same]) * 1e6
                 for same in zip(*runs)}
    out = []
    for same in zip(*runs):
        first = same[0]
        times = pooled_ns[_key(first)]
        base = None if first.baseline is None else pooled_ns[(first.target, first.batch, first.baseline)]
        loads = [m.load for m in same if m.load is not None]
        out.append(replace(first, stats=summarize(times, first.batch),
                           ratio=None if base is None else ratio(times, base), times_ms=tuple(times / 1e6),
                           load=(max(l[0] for l in loads), max(l[1] for l in loads)) if loads else None,
                           repeats=tuple(m.overhead_pct for m in same if m.overhead_pct is not None)))
    return out
