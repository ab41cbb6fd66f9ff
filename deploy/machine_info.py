"""What a latency number was measured on: CPU, cores, load, package versions, GPU.

Every recorded benchmark carries this, because a latency without its machine is not a result.
The load average is included: a number measured while other processes kept the cores busy is
only comparable within its own run.
"""
from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["MachineInfo", "cpu_model", "available_cores", "load_average", "package_versions", "gpu_info",
           "collect"]

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


def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15 minute load averages, rounded (None where the OS has none)."""
    if not hasattr(os, "getloadavg"):
        return None
    one, five, fifteen = (round(v, 2) for v in os.getloadavg())
    return one, five, fifteen


@dataclass(frozen=True)
class MachineInfo:
    """The machine a measurement was taken on (``load_average`` at collection time)."""

    cpu: str
    cores_available: int
    cpu_count: int | None
    load_average: tuple[float, float, float] | None
    os: str
    python: str
    packages: dict[str, str | None] = field(default_factory=dict)
    gpu: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line: CPU, cores, GPU and the load average."""
        gpu = f", GPU {self.gpu['name']}" if self.gpu else ""
        return f"{self.cpu}, {self.cores_available} cores available{gpu}; load average {self.load_average}"

    def versions(self) -> str:
        """``torch 2.13.0, onnx 1.19.0, …`` for the installed packages."""
        return ", ".join(f"{name} {version}" for name, version in self.packages.items() if version)


def collect() -> MachineInfo:
    """Everything above, with the OS, Python and logical core count: the one machine-info collector."""
    return MachineInfo(cpu=cpu_model(), cores_available=available_cores(), cpu_count=os.cpu_count(),
                       load_average=load_average(), os=platform.platform(), python=platform.python_version(),
                       packages=package_versions(), gpu=gpu_info())
