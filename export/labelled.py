"""Labelled data to verify an export on: an ``.npz`` of inputs and labels, or the digits.

* :func:`load_npz` reads ``inputs`` (``(N, C, H, W)``, numbers, already preprocessed as the
  model expects) and ``labels`` (``(N,)`` class indices) from an ``.npz`` archive. It never
  unpickles (``allow_pickle=False``), and every way a file can be wrong (not a regular file,
  not an archive, arrays missing, a header claiming more data than the archive holds or the
  machine has, wrong shapes or channel count, NaN/inf, labels that are not integers or are
  out of range, an empty set) is a :class:`~recalib.errors.DataError` saying what to fix,
  found before anything large is allocated.
* :func:`digits` is scikit-learn's ``load_digits`` (1,797 8×8 handwritten digits, shipped in
  the wheel, no download), split once with a fixed seed (:data:`TEST_FRACTION` of it for
  testing), scaled to ``[-1, 1]`` and upsampled bilinearly to the network's input size, the
  grey channel repeated to its channel count. ``examples/train_digits.py`` trains on the
  ``"train"`` split; ``recalib export --verify-data digits`` verifies on the ``"test"`` split.
"""
from __future__ import annotations

import math
import os
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recalib.errors import DataError, first_line, quote
from recalib.infra.memory import MemoryEstimate, check_fits, format_bytes
from recalib.infra.reading import check_regular

__all__ = ["LabelledData", "load_npz", "load_npz_inputs", "check_images_fit", "digits", "load_labelled", "DIGITS", "SPLIT_SEED", "TEST_FRACTION",
           "DIGITS_CLASSES"]

DIGITS = "digits"
DIGITS_CLASSES = 10
SPLIT_SEED = 0
TEST_FRACTION = 0.25
_SAVE_HINT = "save it with numpy.savez(path, inputs=X, labels=y)"


@dataclass(frozen=True)
class LabelledData:
    """``inputs`` ``(N, C, H, W)`` float32 and ``labels`` ``(N,)`` int64, named ``name`` in reports."""

    name: str
    inputs: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)

    def check_fits(self, input_chw: Sequence[int]) -> LabelledData:
        """``self`` if its images are what a model taking ``input_chw`` inputs takes."""
        check_images_fit(self.name, self.inputs, input_chw)
        return self

    def check_classes(self, num_classes: int) -> LabelledData:
        """``self`` if every label names one of a model's ``num_classes`` outputs."""
        wrong = np.flatnonzero(self.labels >= num_classes)
        if wrong.size:
            raise DataError(f"{self.name}: label {int(self.labels[wrong[0]])} (sample {int(wrong[0])}) is out of "
                            f"range: the model has {num_classes} outputs, so labels must be 0..{num_classes - 1}")
        return self


_ZIP, _NPY, _PICKLE = b"PK\x03\x04", b"\x93NUMPY", b"\x80"


def _check_kind(path: Path) -> None:
    """Refuse, by its first bytes, a file that is not a zip archive, naming what it is instead."""
    if not os.path.lexists(path):
        raise DataError(f"{path}: no such file; give an .npz of inputs and labels, or '{DIGITS}'")
    try:
        check_regular(path, sys.maxsize, "data file", DataError)
    except DataError as exc:
        raise DataError(f"{exc}; give an .npz of inputs and labels, or '{DIGITS}'") from None
    with open(path, "rb") as handle:
        start = handle.read(len(_NPY))
    if start.startswith(_ZIP):
        return
    if start.startswith(_NPY):
        raise DataError(f"{path} holds a single array, not an .npz archive of inputs and labels; {_SAVE_HINT}")
    what = ("pickled Python objects, which recalib never loads" if start.startswith(_PICKLE)
            else f"not a zip archive (it starts with {quote(start)})")
    raise DataError(f"{path} is not an .npz archive: {what}; {_SAVE_HINT}")
def check_images_fit(name: str, inputs: np.ndarray, input_chw: Sequence[int]) -> None:
    """Raise :class:`DataError` unless ``inputs`` ``(N, C, H, W)`` are images a model taking ``input_chw`` takes."""
    chw, got = tuple(int(d) for d in input_chw), tuple(inputs.shape[1:])
    if got[0] != chw[0]:
        raise DataError(f"{name}: the images have {got[0]} channels, but the model takes {chw[0]}; "
                        f"give inputs of shape (N, {chw[0]}, {chw[1]}, {chw[2]})")
    if got[1:] != chw[1:]:
        raise DataError(f"{name}: the images are {got[1]}x{got[2]}, but the model takes "
                        f"{chw[1]}x{chw[2]}; resize them, or export the model at their size (--input-size)")


def _open(path: Path) -> Any:
    """The archive at ``path``, or a DataError saying why it cannot be one."""
    _check_kind(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except ValueError as exc:  # numpy's words for a pickle, which allow_pickle=False refuses
        raise DataError(f"{path} is not an .npz archive (numpy reads it as pickled Python objects, which "
                        f"recalib never loads: {exc}); {_SAVE_HINT}") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path} is not a readable .npz archive ({exc}); {_SAVE_HINT}") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path} holds a single array, not an .npz archive of inputs and labels; {_SAVE_HINT}")
    return archive


def _check_header(archive: Any, key: str, path: Path) -> None:
    """Refuse, from the array's header alone, one that claims more bytes than the archive holds or the machine has."""
    try:
        info = archive.zip.getinfo(f"{key}.npy")
        with archive.zip.open(info) as member:
            version = np.lib.format.read_magic(member)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(member)
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: the header of {key!r} cannot be read ({first_line(exc)}); the archive is "
                        f"damaged; {_SAVE_HINT}") from None
    if dtype.hasobject:
        raise DataError(f"{path}: {key!r} is an array of Python objects, which would have to be unpickled; "
                        f"recalib never unpickles data files: save a numeric array")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > info.file_size:
        raise DataError(f"{path}: the header of {key!r} claims shape {quote(shape)} ({format_bytes(claimed)}), but "
                        f"the archive holds only {format_bytes(info.file_size)} of it: it is damaged or its header "
                        f"was edited; {_SAVE_HINT}")
    check_fits(MemoryEstimate(0, claimed, 0), f"{path}: {key!r} (shape {quote(shape)})", "use a smaller data set")


def _array(archive: Any, key: str, path: Path) -> np.ndarray:
    if key not in archive.files:
        raise DataError(f"{path} has no array {key!r} (it has {', '.join(archive.files) or 'none'}); {_SAVE_HINT}")
    _check_header(archive, key, path)
    try:
        return np.asarray(archive[key])
    except ValueError:
        raise DataError(f"{path}: {key!r} is an array of Python objects, which would have to be unpickled; "
                        f"recalib never unpickles data files: save a numeric array") from None
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise DataError(f"{path}: {key!r} cannot be read ({exc}); the archive is damaged") from None


def _inputs(values: np.ndarray, name: str) -> np.ndarray:
    if values.dtype.kind not in "fiu":
        raise DataError(f"{name}: inputs are of type {values.dtype}, not numbers; save float32 images")
    if values.ndim != 4:
        hint = " (add the channel axis: inputs[:, None])" if values.ndim == 3 else ""
        raise DataError(f"{name}: inputs have shape {values.shape}; they must be (N, C, H, W){hint}")
    if values.shape[0] == 0:
        raise DataError(f"{name}: the data set is empty (0 inputs); give at least one labelled image")
    with np.errstate(over="ignore"):  # values beyond float32 become inf, refused just below
        inputs = np.ascontiguousarray(values, dtype=np.float32)
    bad = ~np.isfinite(inputs).reshape(len(inputs), -1).all(axis=1)
    if bad.any():
        raise DataError(f"{name}: {int(bad.sum())} inputs hold NaN or infinite values (the first is sample "
                        f"{int(np.flatnonzero(bad)[0])}), or values too large for float32; clean the data first")
    return inputs


def _labels(values: np.ndarray, count: int, name: str) -> np.ndarray:
    if values.ndim != 1 or len(values) != count:
        hint = " (one-hot? save labels.argmax(1))" if values.ndim == 2 and values.shape[-1] > 1 else ""
        raise DataError(f"{name}: labels have shape {values.shape}; they must be ({count},), one class index "
                        f"per input{hint}")
    finite = values.dtype.kind != "f" or bool(np.isfinite(values).all())
    integral = values.dtype.kind in "iu" or (values.dtype.kind == "f" and finite and bool((values == np.round(values)).all()))
    if not integral:
        what = (f"values of type {values.dtype}" if values.dtype.kind != "f" else "NaN or infinite values"
                if not finite else f"fractional values (e.g. {values[values != np.round(values)][0]:g})")
        raise DataError(f"{name}: labels must be integer class indices, but they hold {what}")
    if len(values) and values.max() > np.iinfo(np.int64).max:
        raise DataError(f"{name}: label {int(values.max())} is out of range; class indices are 0 up to the "
                        f"model's number of outputs")
    labels = values.astype(np.int64)
    if labels.min() < 0:
        raise DataError(f"{name}: label {int(labels.min())} is out of range; class indices start at 0")
    return labels


def load_npz(path: str | Path) -> LabelledData:
    """The ``inputs`` and ``labels`` arrays of the ``.npz`` at ``path``, checked (see the module docstring)."""
    path = Path(path)
    with _open(path) as archive:
        raw_inputs, raw_labels = _array(archive, "inputs", path), _array(archive, "labels", path)
    inputs = _inputs(raw_inputs, str(path))
    return LabelledData(f"{path} ({len(inputs)} images)", inputs, _labels(raw_labels, len(inputs), str(path)))


def load_npz_inputs(path: str | Path) -> np.ndarray:
    """The ``inputs`` array alone of the ``.npz`` at ``path`` (``labels`` may be absent), checked as
    :func:`load_npz` checks it: what calibration reads."""
    path = Path(path)
    with _open(path) as archive:
        raw_inputs = _array(archive, "inputs", path)
    return _inputs(raw_inputs, str(path))


def _split(count: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(SPLIT_SEED).permutation(count)
    test = round(count * TEST_FRACTION)
    return {"test": np.sort(order[:test]), "train": np.sort(order[test:])}


def digits(split: str, input_chw: Sequence[int]) -> LabelledData:
    """The ``"train"`` or ``"test"`` split of scikit-learn's digits, as ``input_chw`` images."""
    try:  # imported here: only the digits need scikit-learn
        from sklearn.datasets import load_digits
    except ImportError:
        raise DataError("the digits come with scikit-learn, which is not installed: pip install scikit-learn "
                        "(the README's install command includes it), or give an .npz file") from None
    import torch
    import torch.nn.functional as F

    if split not in ("train", "test"):
        raise DataError(f"the digits have a 'train' and a 'test' split, not {split!r}")
    bunch = load_digits()
    index = _split(len(bunch.target))[split]
    channels, height, width = (int(d) for d in input_chw)
    images = torch.from_numpy(bunch.images[index].astype(np.float32) / 8.0 - 1.0)[:, None]
    images = F.interpolate(images, size=(height, width), mode="bilinear", align_corners=False)
    inputs = np.ascontiguousarray(images.expand(-1, channels, -1, -1).numpy())
    return LabelledData(f"digits {split} split ({len(index)} images, seed {SPLIT_SEED}, {height}x{width})",
                        inputs, bunch.target[index].astype(np.int64))


def load_labelled(source: str | Path, input_chw: Sequence[int]) -> LabelledData:
    """``"digits"`` (the test split) or an ``.npz`` path, checked against the model's ``input_chw``."""
    data = digits("test", input_chw) if str(source) == DIGITS else load_npz(source)
    return data.check_fits(input_chw)
