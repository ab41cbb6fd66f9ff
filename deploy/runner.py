"""The one interface every runtime backend implements, and the factory that builds them.

A :class:`Runner` wraps one model on one runtime. ``run(x)`` returns the model's output as a
numpy array (for parity checks); ``prepare(shape)`` binds a fixed random input and returns a
*step* that performs one synchronous inference (for timing); ``benchmark`` times that step.
Models here take one input ``(N, C, H, W)`` and produce one output.
"""
from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np

from deploy.availability import require
from deploy.stats import LatencyStats, summarize
from deploy.timing import Step, time_alternating
from recalib.errors import ConfigError

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["Runner", "Source", "create_runner", "random_input", "to_numpy", "default_device"]

Source = Union["nn.Module", str, os.PathLike]
"""What a runner is built from: a PyTorch module, or the path of an ONNX (or TensorRT engine) file."""


class Runner(ABC):
    """One model on one runtime: ``run`` for outputs, ``prepare``/``benchmark`` for latency."""

    backend: str
    device: str
    input_dtype: np.dtype = np.dtype(np.float32)

    @abstractmethod
    def run(self, x: "np.ndarray | torch.Tensor") -> np.ndarray:
        """The model's output for input ``x`` (any array-like of the input's shape) as numpy."""

    @abstractmethod
    def prepare(self, shape: tuple[int, ...]) -> Step:
        """Bind a fixed random input of ``shape`` and return a step running one synchronous inference."""

    def benchmark(self, shape: tuple[int, ...], warmup: int = 10, iters: int = 50) -> LatencyStats:
        """Latency of one inference at ``shape`` after ``warmup`` untimed runs (``iters`` timed)."""
        times = time_alternating([self.prepare(tuple(shape))], warmup, iters)[0]
        return summarize(times, batch=int(shape[0]))


def random_input(shape: tuple[int, ...], dtype: np.dtype | type = np.float32, seed: int = 0) -> np.ndarray:
    """A reproducible standard-normal input of ``shape``."""
    if any(int(d) < 1 for d in shape):
        raise ConfigError(f"input shape {tuple(shape)} has a dimension below 1; pass positive sizes")
    return np.random.default_rng(seed).standard_normal(tuple(shape), dtype=np.float32).astype(dtype)


def to_numpy(x: Any, dtype: np.dtype | type | None = None) -> np.ndarray:
    """``x`` (numpy array, torch tensor, nested lists) as a contiguous numpy array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.ascontiguousarray(x)
    return arr if dtype is None else arr.astype(dtype, copy=False)


def default_device(backend: str) -> str:
    """``cuda`` for the GPU runtimes, ``cpu`` otherwise (torch backends default to CPU)."""
    return "cuda" if backend in ("ort-cuda", "ort-tensorrt", "tensorrt") else "cpu"


def _onnx_path(source: Source, backend: str) -> Path:
    if not isinstance(source, (str, os.PathLike)):
        raise ConfigError(f"runtime {backend!r} runs an ONNX file; export the module first "
                          f"(export.to_onnx) and pass the .onnx path")
    path = Path(source)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; pass the path of an exported .onnx file")
    return path


def create_runner(backend: str, source: Source, *, device: str | None = None,
                  threads: int | None = None, **options: Any) -> Runner:
    """Build a runner for ``backend`` (one of ``deploy.availability.BACKENDS``) from ``source``.

    torch backends take an ``nn.Module``; ONNX backends take an ``.onnx`` path (``tensorrt``
    also a ``.engine`` built by this package). ``threads`` fixes the CPU thread count.
    ``options`` go to the backend (e.g. ``mode`` for torch-compile, ``precision`` for
    tensorrt and openvino-cpu, ``spinning`` for onnxruntime, ``hint`` for openvino-cpu).
    Raises ``BackendUnavailable`` when the runtime is not installed here.
    """
    device = device or default_device(backend)
    require(backend, device)
    if backend in ("torch-eager", "torch-compile"):
        if isinstance(source, (str, os.PathLike)):
            raise ConfigError(f"runtime {backend!r} runs a PyTorch module, not the file {source}; "
                              f"pass the nn.Module or choose an onnxruntime/TensorRT runtime")
        if backend == "torch-compile":
            from deploy.backends.torch_compile import TorchCompileRunner

            return TorchCompileRunner(source, device=device, threads=threads, **options)
        from deploy.backends.torch_eager import TorchRunner

        return TorchRunner(source, device=device, threads=threads, **options)
    path = _onnx_path(source, backend)
    if backend == "openvino-cpu":
        from deploy.backends.openvino import OpenVinoRunner

        return OpenVinoRunner(path, threads=threads, **options)
    if backend == "tensorrt":
        from deploy.backends.tensorrt import create_tensorrt_runner

        return create_tensorrt_runner(path, device=device, **options)
    from deploy.backends.ort import OrtRunner

    return OrtRunner(path, backend=backend, threads=threads, **options)
