"""Memory: what a run needs at least, what this machine has, and a refusal when one exceeds the other.

Without torch (worker processes and :mod:`recalib.export.inputs` import it). The estimate of a model's
forward pass comes from :func:`recalib.infra.meta.estimate_memory`; an input alone from its shape.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from recalib.errors import ConfigError

__all__ = ["MemoryEstimate", "available_memory", "check_fits", "format_bytes"]

_MEMINFO = Path("/proc/meminfo")


def format_bytes(count: float) -> str:
    """``1234567`` → ``1.2 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class MemoryEstimate:
    """A lower bound of the memory one forward pass takes, in bytes (float32)."""

    weights: int
    input: int
    layer: int  # the largest input + output of one layer

    @property
    def total(self) -> int:
        return self.weights + self.input + self.layer

    def describe(self) -> str:
        parts = [f"{name} {format_bytes(size)}" for name, size in
                 (("weights", self.weights), ("input", self.input), ("largest layer", self.layer)) if size]
        return f"at least {format_bytes(self.total)} ({', '.join(parts)})"


def available_memory() -> int | None:
    """Memory available to a new allocation (``MemAvailable``), or the physical memory; None if unknown."""
    try:
        for line in _MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_fits(estimate: MemoryEstimate, what: str, fix: str) -> None:
    """Raise :class:`ConfigError` when ``estimate`` exceeds the memory available here."""
    available = available_memory()
    if available is not None and estimate.total > available:
        raise ConfigError(f"{what} needs {estimate.describe()}, but {format_bytes(available)} is available "
                          f"here; {fix}")
