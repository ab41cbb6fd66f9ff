"""The runtime backends: one table entry each, saying what it runs, where, and how to get it.

Adding a backend is one :class:`Backend` entry in :data:`_TABLE` plus its module under
``deploy/backends/``. Each probe is cheap (imports and provider lists, no model is run) so
``recalib doctor`` can show the whole matrix. :func:`require` is what every runner calls
first: it raises :class:`BackendUnavailable` with the reason and the exact install command.
The factory is named by a string (``module:callable``) and imported only when a runner is
built, so neither this module nor :mod:`recalib.deploy.runner` imports any backend.
"""
from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recalib.deploy.runner_options import RunnerOptions
from recalib.errors import BackendUnavailable, ConfigError

__all__ = ["Backend", "BACKENDS", "backend", "require", "check_precision", "check_options", "unavailable_reason",
           "backend_matrix", "cuda_available", "tensorrt_module"]

_GPU = "an NVIDIA GPU with its driver, and a CUDA build of torch (https://pytorch.org/get-started)"


@dataclass(frozen=True)
class Backend:
    """One runtime: ``runs`` ``"onnx"`` files or PyTorch ``"module"``s, on ``device`` by default.

    ``factory`` (``"module:callable"``) is called as ``factory(source, device=..., options=...,
    **fixed)`` and returns a :class:`recalib.deploy.runner.Runner`; ``options`` are the
    :class:`~recalib.deploy.runner_options.RunnerOptions` fields its runner reads (any other one set
    is refused, :func:`check_options`); ``devices`` are the other devices it can be put on
    (``RUNTIME@DEVICE``); ``precisions`` the compute precisions its runner takes, the first its
    default, and ``precision_probes`` say why one of them cannot run here (:func:`check_precision`).
    """

    name: str
    runs: str
    device: str
    probe: Callable[[], str | None]
    hint: str
    factory: str
    fixed: tuple[tuple[str, Any], ...] = ()
    options: tuple[str, ...] = ("threads", "precision")
    devices: tuple[str, ...] = ()
    precisions: tuple[str, ...] = ("fp32",)
    precision_probes: tuple[tuple[str, Callable[[], str | None]], ...] = ()

    def create(self, source: Any, *, device: str, options: RunnerOptions) -> Any:
        """The runner of ``source`` (the factory's module is imported now, not before)."""
        module, _, name = self.factory.partition(":")
        factory = getattr(importlib.import_module(module), name)
        return factory(source, device=device, options=options, **dict(self.fixed))


def cuda_available() -> bool:
    """Whether torch sees a CUDA device (the GPU backends move tensors with torch)."""
    import torch

    return bool(torch.cuda.is_available())


def tensorrt_module() -> object | None:
    """The real ``tensorrt`` module, or None.

    ``tensorrt-stubs`` installs a ``tensorrt/`` folder of ``.pyi`` files only, which Python
    imports as an empty namespace package; only a module with ``Builder`` is TensorRT.
    """
    try:
        trt = importlib.import_module("tensorrt")
    except ImportError:
        return None
    return trt if hasattr(trt, "Builder") else None


def _ort_providers() -> list[str] | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    return list(onnxruntime.get_available_providers())


def _probe_torch_compile() -> str | None:
    import torch

    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile"
    if not any(shutil.which(cc) for cc in ("g++", "c++", "clang++")):
        return "no C++ compiler on PATH (TorchInductor compiles CPU kernels with one)"
    return None


def _probe_ort(provider: str) -> str | None:
    providers = _ort_providers()
    if providers is None:
        return "onnxruntime is not installed"
    if provider not in providers:
        return f"this onnxruntime build has no {provider} (it has {', '.join(providers)})"
    if provider != "CPUExecutionProvider" and not cuda_available():
        return "no CUDA device is visible"
    return None


def _probe_openvino() -> str | None:
    try:
        import openvino
    except ImportError:
        return "openvino is not installed"
    devices = openvino.Core().available_devices
    return None if "CPU" in devices else f"OpenVINO sees no CPU device (it has {', '.join(devices) or 'none'})"


def _probe_native_bf16() -> str | None:
    """OpenVINO's CPU plugin emulates bf16, or quietly runs f32, on a CPU without native bf16."""
    import openvino

    capabilities = list(openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    if "BF16" in capabilities:
        return None
    return f"bf16 needs a CPU with native bf16 (AVX512_BF16 or AMX); this one offers {', '.join(capabilities)}"


def _probe_openvino_int8() -> str | None:
    """OpenVINO's CPU plugin runs a QDQ graph's quantised ops in int8 only where it lists INT8."""
    import openvino

    capabilities = list(openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
    return None if "INT8" in capabilities else f"OpenVINO's CPU plugin offers {', '.join(capabilities)}, not INT8"


def _probe_ort_tensorrt() -> str | None:
    reason = _probe_ort("TensorrtExecutionProvider")
    if reason is None and tensorrt_module() is None:
        return "the TensorRT libraries (python package tensorrt) are not installed"
    return reason


def _probe_tensorrt() -> str | None:
    if tensorrt_module() is None:
        return "the python package tensorrt is not installed (tensorrt-stubs alone is only type information)"
    if not cuda_available():
        return "no CUDA device is visible"
    return None


_ORT_OPTIONS = ("threads", "precision", "spinning")
# onnxruntime and onnxruntime-gpu install the same module and break each other, so the GPU
# hints remove the CPU wheel first.
_TABLE = {b.name: b for b in (
    Backend("torch-eager", "module", "cpu", lambda: None, 'pip install "torch==2.13.0" -e ".[cpu]"',
            "recalib.deploy.backends.torch_eager:TorchRunner", devices=("cuda",), precisions=("fp32", "fp16")),
    Backend("torch-compile", "module", "cpu", _probe_torch_compile,
            "install a C++ compiler for TorchInductor (e.g. apt-get install g++)",
            "recalib.deploy.backends.torch_compile:TorchCompileRunner",
            options=("threads", "precision", "compile_mode", "freezing"), devices=("cuda",),
            precisions=("fp32", "fp16")),
    Backend("ort-cpu", "onnx", "cpu", lambda: _probe_ort("CPUExecutionProvider"), 'pip install -e ".[cpu]"',
            "recalib.deploy.backends.ort:OrtRunner", (("backend", "ort-cpu"),), _ORT_OPTIONS,
            precisions=("fp32", "int8")),
    Backend("openvino-cpu", "onnx", "cpu", _probe_openvino, 'pip install -e ".[cpu]" (or pip install openvino)',
            "recalib.deploy.backends.openvino:OpenVinoRunner", options=("threads", "precision", "hint", "profile"),
            precisions=("fp32", "bf16", "int8"),
            precision_probes=(("bf16", _probe_native_bf16), ("int8", _probe_openvino_int8))),
    Backend("ort-cuda", "onnx", "cuda", lambda: _probe_ort("CUDAExecutionProvider"),
            f'pip uninstall -y onnxruntime && pip install -e ".[gpu]" (not ".[cpu]": they conflict), and {_GPU}',
            "recalib.deploy.backends.ort:OrtRunner", (("backend", "ort-cuda"),), _ORT_OPTIONS),
    Backend("ort-tensorrt", "onnx", "cuda", _probe_ort_tensorrt,
            f'pip uninstall -y onnxruntime && pip install -e ".[gpu,tensorrt]", and {_GPU}',
            "recalib.deploy.backends.ort:OrtRunner", (("backend", "ort-tensorrt"),), (*_ORT_OPTIONS, "cache_dir"),
            precisions=("fp32", "fp16", "int8")),
    Backend("tensorrt", "onnx", "cuda", _probe_tensorrt, f'pip install -e ".[tensorrt]", and {_GPU}',
            "recalib.deploy.backends.tensorrt:create_tensorrt_runner",
            options=("threads", "precision", "batches", "workspace_bytes", "cache_dir", "calibration"),
            precisions=("fp32", "fp16", "int8")),
)}
BACKENDS = tuple(_TABLE)


def backend(name: str) -> Backend:
    """The table entry of runtime ``name``, or a ConfigError listing the runtimes."""
    if name not in _TABLE:
        raise ConfigError(f"unknown runtime {name!r}; choose one of: {', '.join(BACKENDS)}")
    return _TABLE[name]


def unavailable_reason(name: str, device: str | None = None) -> str | None:
    """Why runtime ``name`` cannot run on ``device`` (default: its own) here, or None when it can."""
    entry = backend(name)
    if device not in (None, entry.device, *entry.devices):
        raise ConfigError(f"runtime {name!r} cannot run on {device!r}; it runs on "
                          f"{', '.join((entry.device, *entry.devices))}")
    reason = entry.probe()
    if reason is None and device == "cuda" and not cuda_available():
        reason = "device 'cuda' was asked for but no CUDA device is visible"
    return reason


def require(name: str, device: str | None = None) -> None:
    """Raise :class:`BackendUnavailable` (with the install hint) unless ``name`` can run here."""
    reason = unavailable_reason(name, device)
    if reason is not None:
        entry = backend(name)
        raise BackendUnavailable(name, reason, _GPU if device not in (None, entry.device) else entry.hint)


def check_precision(name: str, precision: str) -> None:
    """Raise :class:`ConfigError` unless runtime ``name`` computes in ``precision`` on this machine."""
    entry = backend(name)
    if precision not in entry.precisions:
        offered = [b.name for b in _TABLE.values() if precision in b.precisions]
        raise ConfigError(f"{name} computes in {', '.join(entry.precisions)}, not {precision!r}"
                          + (f"; {precision} runs on {', '.join(offered)}" if offered else ""))
    probe = dict(entry.precision_probes).get(precision)
    reason = None if probe is None else probe()
    if reason is not None:
        raise ConfigError(f"{name} cannot compute in {precision} here: {reason}; use precision 'fp32'")


def check_options(name: str, options: RunnerOptions) -> None:
    """Raise :class:`ConfigError` when ``options`` sets a field runtime ``name`` does not read, saying
    which runtimes take it (a setting silently ignored would make a result claim what did not run)."""
    entry = backend(name)
    refused = [key for key in options.given() if key not in entry.options]
    if refused:
        takers = [f"{key} is a setting of {', '.join(b.name for b in _TABLE.values() if key in b.options)}"
                  for key in refused]
        raise ConfigError(f"{name} does not take {', '.join(f'{k}={getattr(options, k)!r}' for k in refused)}: "
                          f"{'; '.join(takers)}")


def backend_matrix() -> list[dict[str, object]]:
    """One row per backend: ``{name, available, reason, hint}`` (reason and hint None when available)."""
    rows: list[dict[str, object]] = []
    for entry in _TABLE.values():
        reason = unavailable_reason(entry.name)
        rows.append({"name": entry.name, "available": reason is None, "reason": reason,
                     "hint": None if reason is None else entry.hint})
    return rows
