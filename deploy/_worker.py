"""The measurement that runs inside a worker process: one target, every batch, models alternated.

Kept apart from :mod:`recalib.deploy.bench` so a worker loads only what its runtime needs, and each
target gets a fresh process with its own thread settings (torch's and onnxruntime's thread
pools never compete). ``python -m recalib.deploy._worker JOB RESULT PARENT_PID`` reads a pickled
:class:`Job` and writes a pickled :class:`WorkerResult` or :class:`WorkerError` (recalib
errors do not all pickle, so they travel as data). The job file starts with the user's files
the parent imported (:func:`recalib.sources.user_code.imported_files`): a model class defined in
one is pickled by reference to it, so the worker imports them under the same names first
(:func:`write_job`, :func:`read_job`). The worker ends with its parent
(:func:`recalib.infra.lifetime.die_with_parent`) and unwinds on SIGTERM, so it never outlives the
command that started it. A plain subprocess rather than ``multiprocessing`` because
spawn re-runs the caller's main script, which breaks scripts without an ``if __name__ ==
"__main__"`` guard.
"""
from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from recalib.deploy.machine_info import available_cores, load_average
from recalib.deploy.results import Measurement
from recalib.deploy.runner import Runner, Source, create_runner
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.stats import ratio, summarize
from recalib.deploy.target import Target
from recalib.deploy.timing import time_alternating
from recalib.export.options import DEFAULT_TOLERANCE
from recalib.export.parity import ParityCheck, Reference, judge, require
from recalib.errors import RecalibError
from recalib.infra.lifetime import Terminated, die_with_parent, exit_on_signals
from recalib.sources.user_code import import_files, imported_files

__all__ = ["Job", "WorkerResult", "WorkerError", "measure", "run_job", "write_job", "read_job"]


@dataclass
class Job:
    """Everything a worker needs: sources in model order (first = baseline) and settings.

    ``options`` are the runners' (threads included). ``references[i]`` is model ``i``'s PyTorch
    reference for the parity check (None: a file with no PyTorch model, not checked here).
    ``duration``: seconds of timed rounds per batch instead of ``iters`` rounds. ``baselines[i]``:
    the index of the model model ``i``'s overhead is against (empty: the first, for all), so
    several groups timed in the same rounds are each compared with their own baseline.
    ``inputs``: images ``(N, C, H, W)`` every model is timed on (None: a fixed random input).
    """

    target: Target
    labels: list[str]
    sources: list[Source]
    input_chws: list[tuple[int, ...]]
    batches: list[int]
    warmup: int
    iters: int
    options: RunnerOptions = RunnerOptions()
    references: list[Reference | None] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    duration: float | None = None
    baselines: list[int] = field(default_factory=list)
    inputs: np.ndarray | None = None

    def baseline_of(self, index: int) -> int:
        return self.baselines[index] if self.baselines else 0


@dataclass
class WorkerResult:
    """What a worker measured, and what its runtime reports it ran (``Runner.settings``: OpenVINO's
    precision, hint, threads and streams as its compiled model reads them back)."""

    measurements: list[Measurement]
    parity: list[ParityCheck]
    runtime_settings: dict[str, Any] = field(default_factory=dict)


@dataclass
class WorkerError:
    """A recalib error raised in the worker, as data: its class and state."""

    module: str
    name: str
    message: str
    state: dict[str, Any]


def _runner_options(job: Job, batch: int) -> RunnerOptions:
    """TensorRT engines are tuned for one batch: build each batch's engine for exactly that batch."""
    if job.target.runtime == "tensorrt":
        return replace(job.options, batches=(batch, batch, batch))
    return job.options


def _check_parity(job: Job, runners: list[Runner]) -> list[ParityCheck]:
    checks = []
    for runner, label, ref in zip(runners, job.labels, job.references):
        if ref is not None:
            got = [runner.run(ref.input)]
            check = judge(ref, got, runtime=job.target.name, label=label, tolerance=job.tolerance)
            checks.append(require(check, "it was not timed"))
    return checks


def _measure_batch(job: Job, batch: int, parity: list[ParityCheck],
                   ran: dict[str, Any]) -> list[Measurement]:
    options = _runner_options(job, batch)
    runners = [create_runner(job.target.runtime, source, options, device=job.target.device)
               for source in job.sources]
    ran.update(getattr(runners[0], "settings", {}))
    if not parity:
        parity.extend(_check_parity(job, runners))
    x = None if job.inputs is None else job.inputs[np.arange(batch) % len(job.inputs)]
    steps = [runner.prepare((batch, *chw), x) for runner, chw in zip(runners, job.input_chws)]
    before = load_average()
    times = time_alternating(steps, job.warmup, job.iters, job.duration)
    after = load_average()
    load = None if before is None or after is None else (before[0], after[0])
    measurements = []
    for index, (label, t) in enumerate(zip(job.labels, times)):
        base = job.baseline_of(index)
        measurements.append(Measurement(job.target.name, batch, label, summarize(t, batch),
                                        None if base == index else ratio(t, times[base]),
                                        tuple(float(v) / 1e6 for v in t), load, available_cores(),
                                        baseline=None if base == index else job.labels[base]))
    return measurements


def measure(job: Job) -> WorkerResult:
    """Check parity once, then time every batch of ``job``."""
    parity: list[ParityCheck] = []
    ran: dict[str, Any] = {}
    measurements = [m for batch in job.batches for m in _measure_batch(job, batch, parity, ran)]
    return WorkerResult(measurements, parity, ran)


def _as_data(exc: RecalibError) -> WorkerError:
    cls = type(exc)
    return WorkerError(cls.__module__, cls.__qualname__, str(exc),
                       {k: v for k, v in vars(exc).items() if isinstance(v, (str, int, float))})


def run_job(job: Job) -> WorkerResult | WorkerError:
    """:func:`measure`, with a recalib error returned as data for the parent to raise again."""
    try:
        return measure(job)
    except RecalibError as exc:
        return _as_data(exc)


def write_job(job: Job, path: Path) -> None:
    """``job`` pickled to ``path``, after the user's files its models' classes may come from."""
    path.write_bytes(pickle.dumps(imported_files()) + pickle.dumps(job))


def read_job(path: Path) -> Job:
    """The job :func:`write_job` wrote, its user's files imported first (their code runs here too)."""
    with open(path, "rb") as handle:
        import_files(pickle.load(handle))
        job: Job = pickle.load(handle)
    return job


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process: ``JOB_PICKLE RESULT_PICKLE PARENT_PID``."""
    job_path, result_path, parent = argv if argv is not None else sys.argv[1:4]
    try:
        with exit_on_signals():
            die_with_parent(int(parent))
            try:
                outcome = run_job(read_job(Path(job_path)))
            except RecalibError as exc:  # a user's file that no longer imports
                outcome = _as_data(exc)
            with open(result_path, "wb") as handle:
                pickle.dump(outcome, handle)
    except Terminated as exc:
        return exc.exit_code
    return 0


if __name__ == "__main__":
    # Run the imported module's main, so the pickled outcome names recalib.deploy._worker's classes,
    # which the parent can load, rather than __main__'s.
    from recalib.deploy._worker import main as _imported_main

    sys.exit(_imported_main())
