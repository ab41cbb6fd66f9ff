"""Honest latency comparisons: the same run, alternating models, fixed threads, one process per runtime.

:func:`compare` times a baseline (usually the plain backbone) and its variants (the backbone
with each block) on each runtime and batch size:

- models alternate A B C A B C … after alternating warm-up rounds, so drift hits all alike;
- thread counts are fixed (default: the cores this process may use); onnxruntime's threads
  spin only while a run is in flight (:mod:`deploy.backends.ort`), since sessions of every
  model share the worker process;
- each runtime runs in a fresh worker process (``isolate=True``), so torch's and
  onnxruntime's thread pools never compete;
- before timing, every runner's output is checked against PyTorch (``VerificationError``);
- ratios against the baseline come with a paired-bootstrap interval (:mod:`deploy.stats`).
"""
from __future__ import annotations

import importlib
import json
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from deploy import machine_info
from deploy._worker import Job, run_job
from deploy.availability import require
from deploy.runner import Source, default_device, random_input
from recalib.errors import BenchmarkError, ConfigError, RecalibError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Candidate", "BenchConfig", "compare", "export_candidates", "reference_outputs"]

_TORCH_RUNTIMES = ("torch-eager", "torch-compile")


@dataclass
class Candidate:
    """One compared model: its label, the PyTorch module, and (optionally) its exported ONNX file."""

    label: str
    module: nn.Module
    onnx_path: Path | None = None


@dataclass
class BenchConfig:
    """What to measure. ``input_chw`` is the input without the batch dim, e.g. ``(3, 224, 224)``.

    Tolerances apply to the parity check before timing: the runtime's output may differ from
    PyTorch's by at most ``atol + rtol * max|PyTorch output|``.
    """

    runtimes: Sequence[str]
    batches: Sequence[int]
    input_chw: tuple[int, ...]
    warmup: int = 10
    iters: int = 50
    threads: int | None = None
    device: str | None = None
    atol: float = 1e-5
    rtol: float = 1e-3
    isolate: bool = True
    optimize: bool = True
    runtime_options: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.runtimes or not self.batches:
            raise ConfigError("choose at least one runtime and one batch size")
        if any(int(b) < 1 for b in self.batches):
            raise ConfigError(f"batch sizes must be >= 1, got {list(self.batches)}")
        if self.warmup < 0 or self.iters < 1:
            raise ConfigError(f"need warmup >= 0 and iters >= 1, got {self.warmup} and {self.iters}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"threads must be >= 1, got {self.threads}")
        if self.threads is None:
            self.threads = machine_info.available_cores()


def export_candidates(candidates: Sequence[Candidate], input_shape: tuple[int, ...],
                      out_dir: Path, *, optimize: bool = True) -> list[Path]:
    """Each candidate's ONNX file: its own, or a fresh dynamic-batch export to ``out_dir``.

    ``optimize`` selects :func:`export.to_onnx`'s exact runtime rewrites (on by default, as in
    ``recalib export``); ``False`` times the plain export.
    """
    paths = []
    for candidate in candidates:
        path = candidate.onnx_path
        if path is None:
            from export import to_onnx

            path = out_dir / f"{candidate.label}.onnx"
            to_onnx(candidate.module, input_shape, path, dynamic_batch=True, optimize=optimize)
        paths.append(Path(path))
    return paths


def reference_outputs(candidates: Sequence[Candidate], x: np.ndarray) -> list[np.ndarray]:
    """PyTorch's outputs of each candidate in eval mode, as float64 for the comparison."""
    import torch

    outputs = []
    with torch.no_grad():
        for candidate in candidates:
            module = candidate.module.eval()
            device = next((p.device for p in module.parameters()), torch.device("cpu"))
            out = module(torch.from_numpy(x).to(device))
            outputs.append(out.detach().double().cpu().numpy())
    return outputs


def _job(config: BenchConfig, runtime: str, candidates: Sequence[Candidate], onnx_paths: list[Path],
         x: np.ndarray, expected: list[np.ndarray]) -> Job:
    sources: list[Source] = ([c.module for c in candidates] if runtime in _TORCH_RUNTIMES
                             else list(onnx_paths))
    return Job(runtime=runtime, labels=[c.label for c in candidates], sources=sources,
               batches=[int(b) for b in config.batches], input_chw=tuple(config.input_chw),
               warmup=config.warmup, iters=config.iters, threads=config.threads,
               device=config.device, options=dict(config.runtime_options.get(runtime, {})),
               parity_input=x, expected=expected, atol=config.atol, rtol=config.rtol)


def _raise_from(error: dict[str, Any]) -> None:
    """Raise again, in this process, a recalib error a worker returned as data."""
    cls = getattr(importlib.import_module(error["module"]), error["name"], None)
    if not (isinstance(cls, type) and issubclass(cls, RecalibError)):
        raise RecalibError(error["message"])
    exc = cls.__new__(cls)
    Exception.__init__(exc, error["message"])
    vars(exc).update(error["state"])
    raise exc


def _run_isolated(job: Job) -> dict[str, Any]:
    """Run ``job`` in a fresh Python process (same interpreter and import path)."""
    with tempfile.TemporaryDirectory(prefix="recalib-worker-") as tmp:
        job_path, result_path = Path(tmp) / "job.pkl", Path(tmp) / "result.json"
        try:
            job_path.write_bytes(pickle.dumps(job))
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise ConfigError(f"cannot send the {job.runtime} job to a worker process ({exc}); define "
                              f"model classes in an importable module, or pass isolate=False") from None
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.run([sys.executable, "-m", "deploy._worker", str(job_path), str(result_path)],
                              env=env, capture_output=True, text=True)
        if proc.returncode != 0 or not result_path.is_file():
            tail = (proc.stderr or proc.stdout)[-2000:]
            raise BenchmarkError(f"the {job.runtime} worker process failed (exit {proc.returncode}):\n{tail}")
        return dict(json.loads(result_path.read_text(encoding="utf-8")))


def _run(job: Job, isolate: bool) -> dict[str, Any]:
    result = _run_isolated(job) if isolate else run_job(job)
    if "error" in result:
        _raise_from(result["error"])
    return result


def compare(candidates: Sequence[Candidate], config: BenchConfig,
            progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Time ``candidates`` (the first is the baseline) on every runtime and batch of ``config``.

    Returns a JSON-ready report: ``machine``, ``config``, ``max_abs_error`` per runtime and
    candidate, and ``results``: one entry per runtime and batch with ``stats`` per candidate
    and ``ratios`` (candidate / baseline) per non-baseline candidate.
    """
    if len({c.label for c in candidates}) != len(candidates) or not candidates:
        raise ConfigError(f"candidate labels must be unique and non-empty: {[c.label for c in candidates]}")
    for runtime in config.runtimes:
        require(runtime, config.device or default_device(runtime))
    x = random_input((int(config.batches[0]), *config.input_chw), seed=1)
    expected = reference_outputs(candidates, x)
    report: dict[str, Any] = {"machine": machine_info.collect(), "config": _config_dict(config),
                              "labels": [c.label for c in candidates], "results": [],
                              "max_abs_error": {}}
    with tempfile.TemporaryDirectory(prefix="recalib-bench-") as tmp:
        onnx_paths: list[Path] = []
        if any(r not in _TORCH_RUNTIMES for r in config.runtimes):
            onnx_paths = export_candidates(candidates, (int(config.batches[0]), *config.input_chw), Path(tmp),
                                           optimize=config.optimize)
        for runtime in config.runtimes:
            if progress is not None:
                progress(f"{runtime}: timing {len(candidates)} models at batch {list(config.batches)}")
            job = _job(config, runtime, candidates, onnx_paths, x, expected)
            result = _run(job, config.isolate)
            report["results"].extend(result["results"])
            report["max_abs_error"][runtime] = result["max_abs_error"]
    return report


def _config_dict(config: BenchConfig) -> dict[str, Any]:
    data = asdict(config)
    data.update(runtimes=list(config.runtimes), batches=list(config.batches),
                input_chw=list(config.input_chw))
    return data
