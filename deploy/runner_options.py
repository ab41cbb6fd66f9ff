"""How a runner runs, whatever the runtime: one typed record, validated when it is made.

:class:`RunnerOptions` travels unchanged from the command line or the Python API through the
bench settings and the worker job to :func:`recalib.deploy.runner.create_runner`. A field left None
takes the runtime's own default. Each runtime honours some fields (``Backend.options`` in
:mod:`recalib.deploy.availability`): a field set for a runtime that does not read it is refused when
the runner is made (:func:`recalib.deploy.availability.check_options`), and a value the runtime
cannot honour (OpenVINO in fp16, a performance hint it does not know) by the runtime itself.

Light to import (no torch, onnx or runtime): the command line reads its defaults here.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from recalib.deploy.machine_info import available_cores
from recalib.errors import ConfigError, quote

__all__ = ["RunnerOptions", "DEFAULT_PRECISION", "check_threads"]

DEFAULT_PRECISION = "fp32"  # every runtime's own default (the first of its precisions)


def check_threads(threads: int | None) -> None:
    """Raise :class:`ConfigError` unless ``threads`` is None (the runtime's default) or an integer from 1 to the
    cores this process may use (more threads than cores only contend: a timing of them measures the contention)."""
    if threads is None:
        return
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise ConfigError(f"threads must be an integer >= 1, got {quote(threads)}")
    cores = available_cores()
    if threads > cores:
        raise ConfigError(f"threads {threads} is more than the {cores} core(s) this process may use; "
                          f"give at most {cores}")


@dataclass(frozen=True)
class RunnerOptions:
    """Settings of one runner; None means the runtime's own default.

    ``threads``: CPU threads (every runtime; tensorrt accepts it with nothing to set).
    ``precision``: the compute precision, one of the runtime's own (default :data:`DEFAULT_PRECISION`).
    ``spinning``: onnxruntime's threads spin during a run and stop when it returns (default), or never.
    ``hint``: openvino-cpu's performance hint, ``latency`` (default) or ``throughput``.
    ``profile``: openvino-cpu's per-layer performance counters (default off).
    ``compile_mode``: torch-compile's mode (default ``default``); ``freezing``: Inductor's freezing (default on).
    ``batches``: tensorrt's optimisation profile ``(min, opt, max)`` (default ``(1, 1, 1)``).
    ``workspace_bytes``: tensorrt's builder workspace (default TensorRT's).
    ``cache_dir``: where tensorrt and ort-tensorrt keep engines and timing caches (default none).
    ``calibration``: tensorrt's int8 calibration images for a float graph (``digits``, an ``.npz`` path,
    ``random``), fed to TensorRT 10's entropy calibrator (default none: int8 runs a QDQ graph).
    """

    threads: int | None = None
    precision: str | None = None
    spinning: bool | None = None
    hint: str | None = None
    profile: bool | None = None
    compile_mode: str | None = None
    freezing: bool | None = None
    batches: tuple[int, int, int] | None = None
    workspace_bytes: int | None = None
    cache_dir: Path | None = None
    calibration: str | None = None

    def __post_init__(self) -> None:
        check_threads(self.threads)

    @property
    def compute_precision(self) -> str:
        """The precision the runner computes in: ``precision``, else :data:`DEFAULT_PRECISION`."""
        return self.precision or DEFAULT_PRECISION

    def given(self) -> dict[str, Any]:
        """The fields that are set (not None), by name: what a runtime is asked to honour."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set, JSON-ready (paths as strings)."""
        return {name: str(value) if isinstance(value, Path) else value for name, value in self.given().items()}
