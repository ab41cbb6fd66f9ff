"""The one interface every runtime backend implements, and the factory that builds them.

A :class:`Runner` wraps one model on one runtime. ``run(x)`` returns the model's output as a
numpy array (for parity checks); ``prepare(shape)`` binds a fixed random input (or the real
images given, ``prepare(shape, x)``) and returns a *step* that performs one synchronous inference
(for timing); ``benchmark`` times that step.
Models here take one input ``(N, C, H, W)`` and produce one output.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Union, cast

import numpy as np

from recalib.deploy.availability import Backend, backend, check_options, check_precision, require
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.stats import LatencyStats, summarize
from recalib.deploy.timing import Step, time_alternating
from recalib.export.inputs import random_input
from recalib.export.onnx_file import read_onnx
from recalib.export.quantize.placement import is_quantized
from recalib.errors import BackendUnavailable, ConfigError, VerificationError, first_line

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["Runner", "Source", "CheckedFile", "create_runner", "check_precision_form", "opener", "random_input", "to_numpy"]


@dataclass(frozen=True)
class CheckedFile:
    """The path of an exported file that was read and checked already (by
    :func:`recalib.export.onnx_file.read_onnx`, or by the verification of the export that wrote it):
    a runner loads it without reading it again."""

    path: Path
    quantized: bool = False  # a QDQ (int8) graph, as whoever checked it read it

    def __fspath__(self) -> str:
        return os.fspath(self.path)


Source = Union["nn.Module", str, os.PathLike]
"""What a runner is built from: a PyTorch module, or the path of an ONNX (or TensorRT engine) file
(a :class:`CheckedFile` when it was checked already)."""


class Runner(ABC):
    """One model on one runtime: ``run`` for outputs, ``prepare``/``benchmark`` for latency."""

    backend: str
    device: str
    input_dtype: np.dtype = np.dtype(np.float32)

    @abstractmethod
    def run(self, x: "np.ndarray | torch.Tensor") -> np.ndarray:
        """The model's output for input ``x`` (any array-like of the input's shape) as numpy."""

    @abstractmethod
    def prepare(self, shape: tuple[int, ...], x: np.ndarray | None = None) -> Step:
        """Bind input ``x`` of ``shape`` (None: a fixed random one) and return a step running one
        synchronous inference."""

    def timing_input(self, shape: tuple[int, ...], x: np.ndarray | None) -> np.ndarray:
        """What ``prepare`` binds: ``x`` in the input's dtype (refused unless it has ``shape``), else the
        fixed random input of ``shape``."""
        if x is None:
            return random_input(shape, self.input_dtype)
        if tuple(x.shape) != tuple(shape):
            raise ConfigError(f"the timing input has shape {tuple(x.shape)}, not {tuple(shape)}")
        return np.ascontiguousarray(x, dtype=self.input_dtype)

    def benchmark(self, shape: tuple[int, ...], warmup: int = 10, iters: int = 50) -> LatencyStats:
        """Latency of one inference at ``shape`` after ``warmup`` untimed runs (``iters`` timed)."""
        times = time_alternating([self.prepare(tuple(shape))], warmup, iters)[0]
        return summarize(times, batch=int(shape[0]))


def to_numpy(x: Any, dtype: np.dtype | type | None = None) -> np.ndarray:
    """``x`` (numpy array, torch tensor, nested lists) as a contiguous numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.ascontiguousarray(x)
    return arr if dtype is None else arr.astype(dtype, copy=False)


def _check_source(source: Source, backend: Backend) -> Source:
    """A module for torch runtimes, an existing file for the others."""
    if not isinstance(source, (str, os.PathLike)):
        if backend.runs == "onnx":
            raise ConfigError(f"runtime {backend.name!r} runs an exported file; export the module first "
                              f"(export.to_onnx) and pass the .onnx path")
        return source
    if backend.runs == "module":
        raise ConfigError(f"runtime {backend.name!r} runs a PyTorch module, not the file {source}; "
                          f"pass the nn.Module or choose a runtime that runs exported files")
    path = Path(os.fspath(source))
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; pass the path of an exported .onnx file")
    if isinstance(source, CheckedFile):
        return source
    if path.suffix != ".engine":  # an engine: by its header (engine_file)
        return CheckedFile(path, is_quantized(read_onnx(path)))
    return path


def create_runner(name: str, source: Source, options: RunnerOptions = RunnerOptions(), *,
                  device: str | None = None) -> Runner:
    """Build a runner for runtime ``name`` (see ``recalib.deploy.availability.BACKENDS``) from ``source``.

    torch runtimes take an ``nn.Module``; the others an exported file (``.onnx``; ``tensorrt``
    also a ``.engine`` built by this package).
    ``device`` defaults to the runtime's own. ``options`` (:class:`RunnerOptions`: threads,
    precision, onnxruntime's spinning, OpenVINO's hint, torch-compile's mode, TensorRT's batch
    profile, …) go to the backend, which reads the fields it honours; a field it does not read is
    refused here. Raises ``BackendUnavailable`` when the runtime is not installed here.
    """
    entry = backend(name)
    device = device or entry.device
    require(name, device)
    check_options(name, options)
    check_precision(name, options.compute_precision)
    checked = _check_source(source, entry)
    if isinstance(checked, CheckedFile):
        check_precision_form(checked, options.compute_precision, calibrated=options.calibration is not None)
        checked = checked.path
    return cast(Runner, entry.create(checked, device=device, options=options))


def check_precision_form(file: CheckedFile, precision: str, calibrated: bool) -> None:
    """An int8 runner runs a QDQ graph (``recalib export --precision int8``), or a float graph it calibrates
    itself (``calibrated``: TensorRT 10's calibrator), a float one a float graph: a result must not claim a
    precision the file does not compute in. The form is the one read where the file was checked."""
    path, quantized = file.path, file.quantized
    if precision == "int8" and calibrated and quantized:
        raise ConfigError(f"{path} is a QDQ graph with its own int8 scales; calibration images are for a float graph")
    if precision == "int8" and not quantized and not calibrated:
        raise ConfigError(f"{path} is a float graph; int8 runs the quantised (QDQ) graph that "
                          f"`recalib export --precision int8 --calibration ...` writes")
    if precision != "int8" and quantized:
        raise ConfigError(f"{path} is an int8 (QDQ) graph; run it with precision int8, not {precision}")


def opener(name: str, options: RunnerOptions = RunnerOptions(), *,
           device: str | None = None) -> Callable[[Path], Callable[[np.ndarray], list[np.ndarray]]]:
    """An :data:`recalib.export.inputs.Opener` for runtime ``name``: exports are verified on it
    (``Verification(runtimes=...)``)."""
    def open_file(path: Path) -> Callable[[np.ndarray], list[np.ndarray]]:
        try:
            runner = create_runner(name, path, options, device=device)
        except BackendUnavailable:
            raise
        except Exception as exc:  # the runtime refuses the graph just exported: the export fails verification
            raise VerificationError(f"{name} cannot load the exported graph {path.name}: {first_line(exc)}") from exc
        return lambda x: [runner.run(x)]
    return open_file
