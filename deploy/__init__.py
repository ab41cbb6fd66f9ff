"""Runtimes and honest timing: one :class:`Runner` interface over torch, onnxruntime and TensorRT.

``create_runner(runtime, source, RunnerOptions(...))`` builds a runner;
``recalib.deploy.bench.compare`` times prepared models against each other in alternation and
returns a typed :class:`~recalib.deploy.results.BenchResult`; ``deploy.availability.backend_matrix()``
says which runtimes can run here. The API is loaded lazily: importing this package (or a light
module of it, such as :mod:`recalib.deploy.settings`, which the command line reads its defaults
from) loads neither torch, onnx nor any runtime.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "BACKENDS": "recalib.deploy.availability", "backend_matrix": "recalib.deploy.availability",
    "require": "recalib.deploy.availability", "Runner": "recalib.deploy.runner",
    "create_runner": "recalib.deploy.runner", "RunnerOptions": "recalib.deploy.runner_options",
    "LatencyStats": "recalib.deploy.stats", "RatioStats": "recalib.deploy.stats", "ratio": "recalib.deploy.stats",
    "summarize": "recalib.deploy.stats", "Target": "recalib.deploy.target", "parse_targets": "recalib.deploy.target",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'recalib.deploy' has no attribute {name!r}")
