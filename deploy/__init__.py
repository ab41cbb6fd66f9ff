"""Runtimes and honest timing: one :class:`Runner` interface over torch, onnxruntime and TensorRT.

``create_runner(runtime, source)`` builds a runner; ``recalib.deploy.bench.compare`` times prepared
models against each other in alternation and returns a typed :class:`~recalib.deploy.results.BenchResult`;
``deploy.availability.backend_matrix()`` says which runtimes can run here. Importing this
package loads neither torch nor any runtime.
"""
from __future__ import annotations

from recalib.deploy.availability import BACKENDS, backend_matrix, require
from recalib.deploy.runner import Runner, create_runner
from recalib.deploy.stats import LatencyStats, RatioStats, ratio, summarize
from recalib.deploy.target import Target, parse_targets

__all__ = ["BACKENDS", "backend_matrix", "require", "Runner", "create_runner", "LatencyStats",
           "RatioStats", "ratio", "summarize", "Target", "parse_targets"]
