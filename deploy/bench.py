"""Honest latency comparisons: the same run, alternating models, fixed threads, one process per target.

:func:`bench` is ``recalib bench`` as a function (model specifications in, a :class:`BenchResult`
out: every model checked, prepared and exported in a temporary folder, then compared); the
command and the benchmark scripts call it. :func:`compare` times prepared models
(:mod:`recalib.export.prepare`: specs built, calibrated and exported, or exported files as they
are) against the first one, the baseline, on each target and batch size:

- models alternate A B C A B C … after alternating warm-up rounds, so drift hits all alike;
- thread counts are fixed (default: the cores this process may use); onnxruntime's threads
  spin only while a run is in flight (:mod:`recalib.deploy.backends.ort`), since sessions of every
  model share the worker process;
- each target runs in a fresh worker process (``isolate``), so torch's and onnxruntime's
  thread pools never compete;
- before timing, every runtime's output is judged against the model's float64 PyTorch
  reference (:mod:`recalib.export.parity`; ``VerificationError``);
- ratios against the baseline come with a paired-bootstrap interval (:mod:`recalib.deploy.stats`);
- with ``repeat`` > 1, each target runs that many times in fresh workers, taken in turn over the
  targets, and the runs are pooled with each one's overhead kept (:mod:`recalib.deploy.repeats`).
"""
from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

import numpy as np

from recalib.deploy import machine_info
from recalib.deploy._worker import Job, WorkerError, WorkerResult, run_job, write_job
from recalib.deploy.availability import check_precision, require
from recalib.deploy.repeats import pool_repeats
from recalib.deploy.results import BenchResult, ModelEntry
from recalib.deploy.runner import CheckedFile, Source, check_precision_form
from recalib.deploy.settings import BenchSettings
from recalib.deploy.target import Target
from recalib.export.export_all import export_all
from recalib.export.parity import Reference, at_precision
from recalib.export.options import PrepareOptions
from recalib.export.prepare import build
from recalib.export.prepared import Prepared
from recalib.errors import BenchmarkError, ConfigError, RecalibError
from recalib.infra.lifetime import GRACE_SECONDS
from recalib.spec import Spec
from recalib.infra.workspace import temporary_folder

__all__ = ["bench", "compare", "check_targets", "check_models", "load_model"]

Progress = Callable[[str], None]


def load_model(spec: Spec, options: PrepareOptions = PrepareOptions()) -> Prepared:
    """What ``spec`` names, ready to measure: prepared (:func:`recalib.export.prepare.build`), or a TensorRT
    engine as it is, with the input shape of its header (its profile's optimum)."""
    if spec.kind != "engine" or spec.path is None:
        return build(spec, options)
    from recalib.deploy.backends.tensorrt.engine_file import unpack

    meta, _ = unpack(spec.path.read_bytes(), source=str(spec.path))
    if len(meta.opt_shape) != 4:
        raise ConfigError(f"{spec.path} takes input {meta.opt_shape}; recalib measures (N, C, H, W) models")
    _, channels, height, width = meta.opt_shape
    fixed = meta.min_shape[0] if meta.min_shape[0] == meta.max_shape[0] else None
    return Prepared(spec.text, spec, (channels, height, width), file=spec.path, fixed_batch=fixed,
                    verified=f"at engine build (TensorRT {meta.platform.tensorrt_version}, {meta.precision}); "
                             f"not checked here")


def _source(model: Prepared, target: Target) -> Source:
    """What ``target`` runs of ``model``: its exported file (read and checked when it was prepared or
    exported, so the runner does not read it again), or its folded PyTorch module."""
    if target.runs_onnx:
        file = model.file_for(target.runtime)
        if file is None:
            raise ConfigError(f"{model.label} has no exported file for {target.name}; export it first "
                              f"(recalib.export.export_all.export_all)")
        return CheckedFile(file, model.quantized_for(target.runtime))
    return model.inference()


def check_targets(settings: BenchSettings) -> None:
    """Refuse, before any model is built, a runtime that cannot run here (with its install hint),
    or not in the precision asked for. Called once, by whoever takes the settings from a user
    (``recalib bench``); a runner made for a runtime that cannot run refuses the same way."""
    for target in settings.targets:
        require(target.runtime, target.device)
        check_precision(target.runtime, settings.options_for(target).compute_precision)


def check_models(models: Sequence[Prepared], settings: BenchSettings) -> None:
    """Refuse, before any timing, models that cannot be measured as asked (labels, fixed batches,
    files on torch runtimes, engines on other runtimes); pure checks, nothing is probed."""
    labels = [m.label for m in models]
    if not models or len(set(labels)) != len(labels):
        raise ConfigError(f"give at least one model, each with its own label; got {labels}")
    for model in models:
        fixed = model.fixed_batch
        if fixed is not None and set(settings.batches) != {fixed}:
            raise ConfigError(f"{model.label} was exported for batch {fixed} only, but batches "
                              f"{list(settings.batches)} were asked for; pass --batch {fixed}, or export "
                              f"with a dynamic batch")
        for target in settings.targets:
            if not target.runs_onnx and model.module is None:
                raise ConfigError(f"{target.name} runs PyTorch models, but {model.label} is an exported "
                                  f"file; give its architecture or checkpoint, or time it on an ONNX runtime")
            if model.spec.kind == "engine" and target.runtime != "tensorrt":
                raise ConfigError(f"{model.label} is a TensorRT engine; only the tensorrt runtime runs it")


def check_forms(models: Sequence[Prepared], settings: BenchSettings) -> None:
    """Refuse a file whose form (float or QDQ int8) is not the precision its runtimes are asked for."""
    for model in models:
        for target in settings.targets:
            if target.runs_onnx and model.spec.kind == "onnx" and model.file is not None:
                own = settings.options_for(target)
                check_precision_form(CheckedFile(model.file, model.quantized), own.compute_precision,
                           calibrated=own.calibration is not None)


def _references(models: Sequence[Prepared], batch: int, precision: str) -> list[Reference | None]:
    """Each model's float64 PyTorch reference on one fixed input, its yardstick PyTorch in
    ``precision`` (None for a file)."""
    return [None if m.module is None else at_precision(m.reference(batch), m.module, precision) for m in models]


def timing_inputs(models: Sequence[Prepared], settings: BenchSettings) -> np.ndarray | None:
    """The images of ``settings.inputs`` (checked against every model's input size), else None."""
    if settings.inputs is None:
        return None
    from recalib.export.labelled import load_labelled

    sizes = {tuple(m.input_chw) for m in models}
    if len(sizes) != 1:
        raise ConfigError(f"one inputs file times models of one input size; these take {sorted(sizes)}")
    return load_labelled(settings.inputs, models[0].input_chw).inputs


def _job(models: Sequence[Prepared], target: Target, settings: BenchSettings,
         references: list[Reference | None], baselines: Sequence[int], inputs: np.ndarray | None) -> Job:
    return Job(target=target, labels=[m.label for m in models], sources=[_source(m, target) for m in models],
               input_chws=[m.input_chw for m in models], batches=list(settings.batches),
               warmup=settings.warmup, iters=settings.iters, options=settings.options_for(target),
               references=references, tolerance=settings.tolerance, duration=settings.duration,
               baselines=list(baselines), inputs=inputs)


def _raise_from(error: WorkerError) -> NoReturn:
    """Raise again, in this process, a recalib error a worker returned as data."""
    cls = getattr(importlib.import_module(error.module), error.name, None)
    if not (isinstance(cls, type) and issubclass(cls, RecalibError)):
        raise RecalibError(error.message)
    exc = cls.__new__(cls)
    Exception.__init__(exc, error.message)
    vars(exc).update(error.state)
    raise exc


def _wait(proc: subprocess.Popen[str]) -> tuple[str, str]:
    """The worker's output once it ends; if this process is interrupted meanwhile, the worker is
    terminated (then killed after a grace period) before the interruption goes on."""
    try:
        return proc.communicate()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise


def _run_isolated(job: Job) -> WorkerResult | WorkerError:
    """Run ``job`` in a fresh Python process (same interpreter and import path) that dies with this one."""
    with temporary_folder("worker-") as tmp:
        job_path, result_path = tmp / "job.pkl", tmp / "result.pkl"
        try:
            write_job(job, job_path)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ConfigError(f"cannot send the {job.target.name} job to a worker process ({exc}); define "
                              f"model classes at the top level of a module or file (not inside a function), "
                              f"or measure with isolate=False") from None
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        command = [sys.executable, "-m", "recalib.deploy._worker", str(job_path), str(result_path), str(os.getpid())]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        stdout, stderr = _wait(proc)
        if proc.returncode != 0 or not result_path.is_file():
            tail = (stderr or stdout)[-2000:]
            raise BenchmarkError(f"the {job.target.name} worker process failed (exit {proc.returncode}):\n{tail}")
        outcome: WorkerResult | WorkerError = pickle.loads(result_path.read_bytes())
        return outcome


def _entry(model: Prepared) -> ModelEntry:
    """What the report says of a model (the file only where the user gave one: exports made here are temporary)."""
    return ModelEntry(model.label, model.spec.text, tuple(model.input_chw),
                      str(model.spec.path) if model.spec.is_file else None, model.verified,
                      {runtime: export.describe() for runtime, export in model.exports.items()})


def _run(job: Job, isolate: bool) -> WorkerResult:
    outcome = _run_isolated(job) if isolate else run_job(job)
    if isinstance(outcome, WorkerError):
        _raise_from(outcome)
    return outcome


def compare(models: Sequence[Prepared], settings: BenchSettings, progress: Progress | None = None,
            baselines: Sequence[int] = ()) -> BenchResult:
    """Time ``models`` on every target and batch of ``settings``, ``settings.repeat`` times each;
    ``baselines[i]`` is the index of the model model ``i`` is compared with (default: the first)."""
    check_models(models, settings)
    inputs = timing_inputs(models, settings)
    machine = machine_info.collect()
    runs: dict[str, list[WorkerResult]] = {}
    for repeat in range(settings.repeat):
        for target in settings.targets:
            if progress is not None:
                again = f" (run {repeat + 1} of {settings.repeat})" if settings.repeat > 1 else ""
                progress(f"{target.name}: timing {len(models)} models at batch {list(settings.batches)}{again}")
            precision = settings.options_for(target).compute_precision
            # Parity is judged once, in the first run: the later runs time the same files.
            references: list[Reference | None] = (_references(models, settings.batches[0], precision) if not repeat
                                                  else [None] * len(models))
            job = _job(models, target, settings, references, baselines, inputs)
            runs.setdefault(target.name, []).append(_run(job, settings.isolate))
    measurements = [m for outcomes in runs.values() for m in pool_repeats([o.measurements for o in outcomes])]
    parity = [p for outcomes in runs.values() for p in outcomes[0].parity]
    ran = {name: outcomes[0].runtime_settings for name, outcomes in runs.items() if outcomes[0].runtime_settings}
    return BenchResult(machine, settings, tuple(_entry(m) for m in models), tuple(measurements),
                       tuple(parity), machine_info.load_average(), ran)


def bench(specs: Sequence[Spec], settings: BenchSettings, options: PrepareOptions = PrepareOptions(),
          progress: Progress | None = None,
          exported: Callable[[Sequence[Prepared]], None] | None = None) -> BenchResult:
    """Time what ``specs`` name (the first is the baseline) on every target and batch of ``settings``.

    Everything that can be refused is refused before the first model is built (runtimes, sizes),
    then before the first export (labels, fixed batches, files on torch runtimes). Specs are
    prepared with ``options`` (:func:`load_model`) and exported for the ONNX runtimes into a
    temporary folder that is removed afterwards, whatever happens; files are timed as they are.
    ``exported`` is called with the models after timing, while their exported files exist (what
    ``recalib bench --profile`` profiles).
    """
    check_targets(settings)
    for spec in specs:
        spec.check_fits(max(settings.batches))
    # files first (read, not built): one in the wrong form is refused before minutes of exports
    files = {i: load_model(spec, options) for i, spec in enumerate(specs) if spec.kind == "onnx"}
    check_forms(list(files.values()), settings)
    models = [files[i] if i in files else load_model(spec, options) for i, spec in enumerate(specs)]
    check_models(models, settings)
    with temporary_folder("bench-") as tmp:
        if settings.onnx_runtimes:
            models = export_all(models, tmp, options, runtimes=settings.onnx_runtimes, progress=progress)
        result = compare(models, settings, progress=progress)
        if exported is not None:
            exported(models)
        return result
