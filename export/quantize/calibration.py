"""The images int8 activation ranges are measured on, checked before any work.

``--calibration digits`` takes the training split of the digits (:func:`recalib.export.labelled.digits`),
so a digits-trained model is calibrated on images it was trained on and verified on the test split it
never saw; ``FILE.npz`` its ``inputs`` array (read by the one labelled-data reader, so a file's
problems, NaN included, are named the same way; ``labels`` are not needed); ``random`` draws
standard-normal images from a seed, which is only honest for a model with random weights and is
marked so in the report (:attr:`CalibrationSet.warning`).

A set is refused (:class:`~recalib.errors.DataError`) when its images do not fit the model or when it
holds fewer than :data:`MIN_SAMPLES` images; at most :data:`MAX_SAMPLES` are used (a seeded choice), so
calibration time stays bounded on large files.

How the ranges are read from the images is the ``--calibration-method`` (:data:`~recalib.export.options.CALIBRATION_METHODS`,
onnxruntime's ``CalibrationMethod``, :func:`ort_method`): ``minmax`` takes each tensor's extremes, so one
outlier image stretches a range and every other value gets fewer of the 256 steps; ``percentile``
clips the rare tails at the 99.999th percentile of a 2048-bin histogram instead (onnxruntime makes
these ranges symmetric about zero; asymmetric ones decided no better on the digits models). It keeps every
calibrated tensor of every image in memory until the histograms are built (onnxruntime's
``HistogramCalibrater``), so :func:`check_histogram_memory` refuses it up front where that would not
fit. onnxruntime's ``Entropy`` method is not offered: ``quantize_static`` forwards no bin count, and with
its defaults (128 histogram bins, 128 quantised bins) the KL search has one candidate, the whole range,
so it writes the min-max scales (every one of the 152 scales of the digits-trained SE ResNet-20 was
identical).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from recalib.errors import ConfigError, DataError
from recalib.export.labelled import DIGITS, check_images_fit, digits, load_npz_inputs

if TYPE_CHECKING:
    import onnx

__all__ = ["CalibrationSet", "load_calibration", "batches", "RANDOM", "MIN_SAMPLES", "MAX_SAMPLES",
           "CALIBRATION_BATCH", "SOURCES", "check_calibration", "ort_method", "check_histogram_memory", "HISTOGRAM_METHODS"]

RANDOM = "random"
SOURCES = (DIGITS, RANDOM)  # besides an .npz path
# Min-max ranges from a handful of images miss the tails of the activations that other inputs
# reach, and a clipped activation is the largest int8 error; 32 is below what any real set holds
# and above the 8 random images the first measurement used.
MIN_SAMPLES = 32
MAX_SAMPLES = 256  # more adds calibration time, hardly range (min-max over the digits settles by ~200)
CALIBRATION_BATCH = 16  # images per calibration run of a dynamic-batch graph
SELECTION_SEED = 0
HISTOGRAM_METHODS = ("percentile",)  # onnxruntime holds every calibrated tensor for these


@dataclass(frozen=True, eq=False)
class CalibrationSet:
    """``inputs`` ``(N, C, H, W)`` float32 the ranges are measured on, named ``name`` in reports;
    ``random`` says they are random images (a warning in the report)."""

    name: str
    inputs: np.ndarray
    random: bool = False

    @property
    def warning(self) -> str | None:
        """What the report must say of random calibration images (None for real ones)."""
        if not self.random:
            return None
        return ("calibrated on random inputs: the activation ranges are those of noise, not of real images; "
                "a trained model's int8 accuracy is not known from this export (calibrate on real data)")


def _checked(name: str, inputs: np.ndarray, input_chw: Sequence[int], random: bool = False) -> CalibrationSet:
    check_images_fit(name, inputs, input_chw)
    if len(inputs) < MIN_SAMPLES:
        raise DataError(f"{name}: {len(inputs)} images are too few to calibrate int8 ranges on; give at least "
                        f"{MIN_SAMPLES} (a few hundred representative images is typical)")
    if len(inputs) > MAX_SAMPLES:
        chosen = np.sort(np.random.default_rng(SELECTION_SEED).choice(len(inputs), MAX_SAMPLES, replace=False))
        inputs, name = inputs[chosen], f"{name}, {MAX_SAMPLES} of them (seed {SELECTION_SEED})"
    return CalibrationSet(name, np.ascontiguousarray(inputs, dtype=np.float32), random)


def load_calibration(source: str | Path, input_chw: Sequence[int], seed: int = 0) -> CalibrationSet:
    """``"digits"`` (the training split), ``"random"`` (:data:`MAX_SAMPLES` standard-normal images from
    ``seed``) or an ``.npz`` path, checked against the model's ``input_chw``."""
    text = str(source)
    if text == DIGITS:
        data = digits("train", input_chw)
        return _checked(data.name, data.inputs, input_chw)
    if text == RANDOM:
        images = np.random.default_rng(seed).standard_normal((MAX_SAMPLES, *input_chw), dtype=np.float32)
        return _checked(f"{MAX_SAMPLES} random images (seed {seed})", images, input_chw, random=True)
    inputs = load_npz_inputs(source)
    return _checked(f"{source} ({len(inputs)} images)", inputs, input_chw)


def check_calibration(source: str | Path, input_chw: Sequence[int]) -> None:
    """Refuse, before any work, a calibration ``source`` that cannot calibrate a model taking ``input_chw``
    (:func:`load_calibration`'s errors): a file is read and checked; ``digits`` and ``random`` fit any model
    and are made when used."""
    if str(source) not in SOURCES:
        load_calibration(source, input_chw)


def batches(calibration: CalibrationSet, batch: int | None) -> Iterator[np.ndarray]:
    """The images in runs of :data:`CALIBRATION_BATCH` (of exactly ``batch`` for a fixed-batch graph: the
    remainder that does not fill one is left out, so no image is counted twice)."""
    size = batch or CALIBRATION_BATCH
    stop = len(calibration.inputs) if batch is None else len(calibration.inputs) // size * size
    for start in range(0, stop, size):
        yield calibration.inputs[start:start + size]


class Reader:
    """onnxruntime's ``CalibrationDataReader`` protocol (``get_next`` returns a feed, None at the end)
    over :func:`batches` for the graph input ``input_name``."""

    def __init__(self, calibration: CalibrationSet, input_name: str, batch: int | None) -> None:
        self._feeds = ({input_name: part} for part in batches(calibration, batch))

    def get_next(self) -> dict[str, Any] | None:
        return next(self._feeds, None)


def ort_method(method: str) -> Any:
    """onnxruntime's ``CalibrationMethod`` of ``method`` (one of :data:`~recalib.export.options.CALIBRATION_METHODS`,
    as :class:`~recalib.export.options.Quantization` checked it when it was made)."""
    from onnxruntime.quantization import CalibrationMethod

    names = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile}
    return names[method]


def check_histogram_memory(model: onnx.ModelProto, calibration: CalibrationSet, method: str) -> None:
    """Refuse (:class:`~recalib.errors.ConfigError`) a histogram ``method`` whose calibration would hold more
    than the memory available here: every float tensor of the shape-inferred ``model`` (batch 1 where the
    batch is dynamic) for every image of ``calibration``."""
    import onnx

    from recalib.infra.memory import available_memory, format_bytes

    if method not in HISTOGRAM_METHODS:
        return
    per_image = sum(int(np.prod([d.dim_value or 1 for d in value.type.tensor_type.shape.dim[1:]]))
                    for value in model.graph.value_info if value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT)
    needed, available = 4 * per_image * len(calibration.inputs), available_memory()
    if available is not None and needed > available:
        raise ConfigError(f"{method} calibration on {calibration.name} holds every activation of every image, "
                          f"{format_bytes(needed)}, but {format_bytes(available)} is available here; use "
                          f"--calibration-method minmax (it keeps each tensor's extremes only), or fewer images")
