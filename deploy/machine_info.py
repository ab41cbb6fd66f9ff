"""What a latency number was measured on: CPU, cores, load, package versions, GPU.

Every recorded benchmark carries this, because a latency without its machine is not a result.
The load average is included: a number measured while other processes kept the cores busy is
only comparable within its own run.
"""
from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["cpu_model", "available_cores", "package_versions", "gpu_info", "collect"]

_PACKAGES = ("torch", "onnx", "onnxscript", "onnxruntime", "onnxruntime-gpu", "openvino", "tensorrt", "fvcore",
             "numpy", "recalib")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's marketing name (``model name`` in /proc/cpuinfo), else what platform knows."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def available_cores() -> int:
    """Cores this process may run on (its affinity mask), which can be fewer than the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide latency (None when absent)."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def gpu_info() -> dict[str, Any] | None:
    """Name, compute capability, memory and CUDA version of GPU 0, or None without one."""
    import torch

    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    return {"name": props.name, "compute_capability": f"{props.major}.{props.minor}",
            "memory_gib": round(props.total_memory / 2**30, 1), "cuda": torch.version.cuda,
            "count": torch.cuda.device_count()}


def collect() -> dict[str, Any]:
    """Everything above plus the OS, Python, logical core count and the current load average."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu_model(), "cores_available": available_cores(), "cpu_count": os.cpu_count(),
            "load_average_1_5_15": None if load is None else [round(v, 2) for v in load],
            "os": platform.platform(), "python": platform.python_version(),
            "packages": package_versions(), "gpu": gpu_info()}
