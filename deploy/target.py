"""Where a model is measured: a runtime on a device, written ``RUNTIME[@DEVICE]`` everywhere.

``ort-cpu``, ``ort-cuda`` and ``tensorrt`` run on their own device; the torch runtimes run on
the CPU unless told ``@cuda`` (``torch-eager@cuda``). The same spelling is taken by ``recalib
bench --runtime``, ``recalib audit --runtime`` and the Python API.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from recalib.deploy.availability import backend
from recalib.errors import ConfigError

__all__ = ["Target", "parse_targets", "onnx_runtimes"]


@dataclass(frozen=True)
class Target:
    """A runtime on a device."""

    runtime: str
    device: str

    @classmethod
    def parse(cls, text: str) -> Target:
        runtime, _, device = text.strip().partition("@")
        entry = backend(runtime)
        device = device or entry.device
        if device not in (entry.device, *entry.devices):
            raise ConfigError(f"runtime {runtime!r} cannot run on device {device!r}; it runs on "
                              f"{', '.join((entry.device, *entry.devices))} (write RUNTIME@DEVICE)")
        return cls(runtime, device)

    @property
    def name(self) -> str:
        """``RUNTIME``, or ``RUNTIME@DEVICE`` when the device is not the runtime's own."""
        return self.runtime if self.device == backend(self.runtime).device else f"{self.runtime}@{self.device}"

    @property
    def runs_onnx(self) -> bool:
        """Whether the target runs exported files (else the PyTorch module)."""
        return backend(self.runtime).runs == "onnx"

    def __str__(self) -> str:
        return self.name


def parse_targets(names: Iterable[str]) -> tuple[Target, ...]:
    """``["ort-cpu", "torch-eager@cuda"]`` → targets, duplicates removed."""
    targets = tuple(dict.fromkeys(Target.parse(n) for n in names))
    if not targets:
        raise ConfigError("choose at least one runtime")
    return targets


def onnx_runtimes(targets: Iterable[Target]) -> list[str]:
    """The runtimes among ``targets`` that run exported files, each once, in order: the ones an
    export is made for (each times the export optimised for it)."""
    return list(dict.fromkeys(t.runtime for t in targets if t.runs_onnx))
