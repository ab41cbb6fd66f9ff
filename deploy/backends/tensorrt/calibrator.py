"""TensorRT 10's int8 calibrator for a float graph: an ``IInt8EntropyCalibrator2`` fed the calibration images.

The images are the same :class:`~recalib.export.quantize.calibration.CalibrationSet` the QDQ export
calibrates on (``digits``, an ``.npz`` or ``random``), fed in batches of the optimisation profile's
``opt`` batch (TensorRT calibrates an explicit-batch network at the calibration profile's ``opt``
shape) through one CUDA buffer owned by torch. TensorRT 11 has no calibrator (:mod:`._compat`).

Needs TensorRT, torch with CUDA, and a GPU; import only after ``deploy.availability.require("tensorrt")``.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import tensorrt as trt
import torch

from recalib.export.quantize.calibration import CalibrationSet, batches

__all__ = ["EntropyCalibrator"]


class EntropyCalibrator(trt.IInt8EntropyCalibrator2):
    """Feeds ``calibration`` to TensorRT ``batch`` images at a time on ``device``; TensorRT's own
    calibration cache is not kept (the images may change between builds; the engine cache holds the result)."""

    def __init__(self, calibration: CalibrationSet, batch: int, device: str = "cuda") -> None:
        trt.IInt8EntropyCalibrator2.__init__(self)  # TensorRT's bindings need the base initialised explicitly
        self._batches: Iterator[np.ndarray] = batches(calibration, batch)
        self._buffer = torch.empty((batch, *calibration.inputs.shape[1:]), dtype=torch.float32, device=device)
        self.used = 0

    def get_batch_size(self) -> int:
        return 1  # explicit-batch networks: the batch is in the profile's shape, this value is ignored

    def get_batch(self, names: list[str]) -> list[int]:
        part = next(self._batches, None)
        if part is None:
            return []
        self._buffer.copy_(torch.from_numpy(part))
        torch.cuda.synchronize(self._buffer.device)
        self.used += len(part)
        return [int(self._buffer.data_ptr())]

    # None means "no cache: calibrate" (TensorRT's documented reading)
    def read_calibration_cache(self) -> bytes | None:
        return None

    def write_calibration_cache(self, cache: object) -> None:
        """Not kept: the engine cache (``cache_dir``) holds the calibrated engine itself."""

