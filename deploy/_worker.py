"""The measurement that runs inside a worker process: one runtime, every batch, candidates alternated.

Kept apart from :mod:`deploy.bench` so a worker imports only what its runtime needs: an
onnxruntime worker never runs torch (torch's idle OpenMP threads would compete with
onnxruntime's), and each runtime gets a fresh process with its own thread settings.
``python -m deploy._worker JOB RESULT`` reads a pickled :class:`Job` and writes the result as
JSON; errors travel back as data (recalib errors do not all pickle). A plain subprocess rather
than ``multiprocessing`` because spawn re-runs the caller's main script, which breaks scripts
without an ``if __name__ == "__main__"`` guard.
"""
from __future__ import annotations

import json
import pickle
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deploy.runner import Runner, Source, create_runner
from deploy.stats import ratio, summarize
from deploy.timing import time_alternating
from recalib.errors import RecalibError, VerificationError

__all__ = ["Job", "measure", "run_job", "check_parity"]


@dataclass
class Job:
    """Everything a worker needs: sources in candidate order (first = baseline) and settings."""

    runtime: str
    labels: list[str]
    sources: list[Source]
    batches: list[int]
    input_chw: tuple[int, ...]
    warmup: int
    iters: int
    threads: int | None
    device: str | None
    options: dict[str, Any] = field(default_factory=dict)
    parity_input: np.ndarray | None = None
    expected: list[np.ndarray] = field(default_factory=list)
    atol: float = 1e-5
    rtol: float = 1e-3


def check_parity(runner: Runner, label: str, x: np.ndarray, expected: np.ndarray,
                 atol: float, rtol: float) -> float:
    """Max abs error of ``runner`` against PyTorch's output; raises beyond ``atol + rtol * max|expected|``."""
    got: np.ndarray = runner.run(x).astype(np.float64)
    if got.shape != expected.shape:
        raise VerificationError(f"{runner.backend} output of {label!r} has shape {got.shape}, PyTorch "
                                f"gives {expected.shape}; the exported model is not the PyTorch model")
    error = float(np.max(np.abs(got - expected))) if got.size else 0.0
    bound = atol + rtol * float(np.max(np.abs(expected), initial=0.0))
    if not error <= bound:
        raise VerificationError(f"{runner.backend} output of {label!r} differs from PyTorch by {error:.3g} "
                                f"(max abs), beyond the tolerance {bound:.3g} (atol={atol:g}, rtol={rtol:g} "
                                f"of the largest output); check the export's parity report or the runtime")
    return error


def _runner_options(job: Job, batch: int) -> dict[str, Any]:
    """TensorRT engines are tuned for one batch: build each batch's engine for exactly that batch."""
    if job.runtime == "tensorrt":
        return {**job.options, "batches": (batch, batch, batch)}
    return dict(job.options)


def _measure_batch(job: Job, batch: int, errors: dict[str, float]) -> dict[str, Any]:
    options = _runner_options(job, batch)
    runners = [create_runner(job.runtime, source, device=job.device, threads=job.threads, **options)
               for source in job.sources]
    if job.parity_input is not None and not errors:
        for runner, label, expected in zip(runners, job.labels, job.expected):
            errors[label] = check_parity(runner, label, job.parity_input, expected, job.atol, job.rtol)
    shape = (batch, *job.input_chw)
    steps = [runner.prepare(shape) for runner in runners]
    times = time_alternating(steps, job.warmup, job.iters)
    base = times[0]
    return {"runtime": job.runtime, "batch": batch,
            "stats": {label: summarize(t, batch).to_dict() for label, t in zip(job.labels, times)},
            "ratios": {label: ratio(t, base).to_dict() for label, t in zip(job.labels[1:], times[1:])}}


def measure(job: Job) -> dict[str, Any]:
    """Measure every batch of ``job``; returns ``{"results": [...], "max_abs_error": {...}}``."""
    errors: dict[str, float] = {}
    results = [_measure_batch(job, batch, errors) for batch in job.batches]
    return {"results": results, "max_abs_error": errors}


def run_job(job: Job) -> dict[str, Any]:
    """:func:`measure`, with a recalib error returned as data for the parent to raise again."""
    try:
        return measure(job)
    except RecalibError as exc:
        cls = type(exc)
        return {"error": {"module": cls.__module__, "name": cls.__qualname__, "message": str(exc),
                          "state": {k: v for k, v in vars(exc).items() if isinstance(v, (str, int, float))}}}


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process: ``JOB_PICKLE RESULT_JSON``."""
    job_path, result_path = argv if argv is not None else sys.argv[1:3]
    with open(job_path, "rb") as handle:
        job = pickle.load(handle)
    result = run_job(job)
    with open(result_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
