"""Which runtime backends can run here, and what to install when one cannot.

Each probe is cheap (imports and provider lists, no model is run) so ``recalib doctor`` can show
the whole matrix. :func:`require` is what every runner calls first: it raises
:class:`BackendUnavailable` with the reason and the exact install command.
"""
from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable

from recalib.errors import BackendUnavailable, ConfigError

__all__ = ["BACKENDS", "HINTS", "require", "unavailable_reason", "backend_matrix", "cuda_available",
           "tensorrt_module"]

BACKENDS = ("torch-eager", "torch-compile", "ort-cpu", "openvino-cpu", "ort-cuda", "ort-tensorrt", "tensorrt")

_GPU = "an NVIDIA GPU with its driver, and a CUDA build of torch (https://pytorch.org/get-started)"
# onnxruntime and onnxruntime-gpu install the same module and break each other, so the GPU
# hints remove the CPU wheel first.
HINTS = {
    "torch-eager": 'pip install "torch==2.13.0" -e ".[cpu]"',
    "torch-compile": "install a C++ compiler for TorchInductor (e.g. apt-get install g++)",
    "ort-cpu": 'pip install -e ".[cpu]"',
    "openvino-cpu": 'pip install -e ".[cpu]" (or pip install openvino)',
    "ort-cuda": f'pip uninstall -y onnxruntime && pip install -e ".[gpu]" (not ".[cpu]": they conflict), and {_GPU}',
    "ort-tensorrt": f'pip uninstall -y onnxruntime && pip install -e ".[gpu,tensorrt]", and {_GPU}',
    "tensorrt": f'pip install -e ".[tensorrt]", and {_GPU}',
}


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


_PROBES: dict[str, Callable[[], str | None]] = {
    "torch-eager": lambda: None,
    "torch-compile": _probe_torch_compile,
    "ort-cpu": lambda: _probe_ort("CPUExecutionProvider"),
    "openvino-cpu": _probe_openvino,
    "ort-cuda": lambda: _probe_ort("CUDAExecutionProvider"),
    "ort-tensorrt": _probe_ort_tensorrt,
    "tensorrt": _probe_tensorrt,
}


def unavailable_reason(backend: str, device: str = "cpu") -> str | None:
    """Why ``backend`` cannot run on ``device`` here, or None when it can."""
    if backend not in _PROBES:
        raise ConfigError(f"unknown runtime {backend!r}; choose one of: {', '.join(BACKENDS)}")
    reason = _PROBES[backend]()
    if reason is None and device == "cuda" and not cuda_available():
        reason = "device 'cuda' was asked for but no CUDA device is visible"
    return reason


def require(backend: str, device: str = "cpu") -> None:
    """Raise :class:`BackendUnavailable` (with the install hint) unless ``backend`` can run here."""
    reason = unavailable_reason(backend, device)
    if reason is not None:
        hint = _GPU if backend.startswith("torch") and device == "cuda" else HINTS[backend]
        raise BackendUnavailable(backend, reason, hint)


def backend_matrix() -> list[dict[str, object]]:
    """One row per backend: ``{name, available, reason, hint}`` (reason and hint None when available)."""
    rows: list[dict[str, object]] = []
    for name in BACKENDS:
        reason = unavailable_reason(name)
        rows.append({"name": name, "available": reason is None, "reason": reason,
                     "hint": None if reason is None else HINTS[name]})
    return rows
