"""The engine file: a small JSON header describing how the engine was built, then TensorRT's plan.

A serialized TensorRT engine only runs on the TensorRT version and GPU it was built for, and the
plan itself does not say which in a readable way; loading a foreign plan fails deep inside
TensorRT or, worse, runs with poor tactics. So every engine this package writes starts with::

    b"RECALIB-TRT\\0" | uint32 little-endian header length | header (UTF-8 JSON) | plan bytes

and :func:`check_compatible` refuses an engine built with another TensorRT version or on
another GPU before TensorRT sees it. An engine calibrated by TensorRT (int8 from a float graph) is
tied to its calibration images as well: their hash (:func:`data_sha256`) is in the header and in the
cache file's name (:func:`engine_cache_path`), so an engine calibrated on other images is never reused.
Pure Python: this module needs neither TensorRT nor a GPU.
"""
from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from recalib.infra.atomic import write_atomic
from recalib.errors import CheckpointError

__all__ = ["EngineFileError", "EngineMeta", "Platform", "pack", "unpack", "check_compatible",
           "save", "load", "file_sha256", "data_sha256", "engine_cache_path", "platform_slug"]

MAGIC = b"RECALIB-TRT\x00"
FORMAT_VERSION = 1
_LENGTH = struct.Struct("<I")


class EngineFileError(CheckpointError):
    """An engine file is not ours, is damaged, or was built for another TensorRT or GPU."""


@dataclass(frozen=True)
class Platform:
    """Where an engine is built or run: what a plan is tied to."""

    tensorrt_version: str
    gpu_name: str
    compute_capability: str

    def describe(self) -> str:
        return f"TensorRT {self.tensorrt_version} on {self.gpu_name} (compute capability {self.compute_capability})"


@dataclass(frozen=True)
class EngineMeta:
    """How an engine was built: platform, precision, the input it takes, its ONNX source, and the
    :func:`data_sha256` of the images TensorRT calibrated it on (None: not calibrated by TensorRT)."""

    platform: Platform
    precision: str
    input_name: str
    input_dtype: str
    min_shape: tuple[int, ...]
    opt_shape: tuple[int, ...]
    max_shape: tuple[int, ...]
    onnx_sha256: str
    format_version: int = FORMAT_VERSION
    calibration_sha256: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> EngineMeta:
        data = json.loads(raw.decode("utf-8"))
        data["platform"] = Platform(**data["platform"])
        for key in ("min_shape", "opt_shape", "max_shape"):
            data[key] = tuple(data[key])
        return cls(**data)

    def accepts(self, shape: tuple[int, ...]) -> bool:
        """Whether ``shape`` lies inside the engine's optimisation profile."""
        return len(shape) == len(self.min_shape) and all(
            lo <= s <= hi for lo, s, hi in zip(self.min_shape, shape, self.max_shape))


def pack(meta: EngineMeta, plan: bytes) -> bytes:
    """Header and plan as one file's bytes."""
    header = meta.to_json()
    return MAGIC + _LENGTH.pack(len(header)) + header + plan


def unpack(data: bytes, source: str = "engine") -> tuple[EngineMeta, bytes]:
    """Split bytes written by :func:`pack` into metadata and plan; ``source`` names the file in errors."""
    start = len(MAGIC) + _LENGTH.size
    if not data.startswith(MAGIC) or len(data) < start:
        raise EngineFileError(f"{source} is not an engine written by recalib (no RECALIB-TRT header); "
                              f"build it from the ONNX file with the tensorrt runtime")
    (length,) = _LENGTH.unpack_from(data, len(MAGIC))
    try:
        meta = EngineMeta.from_json(data[start:start + length])
    except (ValueError, TypeError, KeyError) as exc:
        raise EngineFileError(f"{source} has a damaged header ({exc}); rebuild the engine") from None
    if meta.format_version != FORMAT_VERSION:
        raise EngineFileError(f"{source} uses engine-file format {meta.format_version}, this recalib "
                              f"reads format {FORMAT_VERSION}; rebuild the engine")
    plan = data[start + length:]
    if not plan:
        raise EngineFileError(f"{source} has a header but no engine plan (truncated?); rebuild the engine")
    return meta, plan


def check_compatible(meta: EngineMeta, here: Platform, source: str = "engine") -> None:
    """Refuse an engine built with another TensorRT version or on another GPU model."""
    built = meta.platform
    if built.tensorrt_version != here.tensorrt_version:
        reason = "TensorRT plans only load in the exact TensorRT version that built them"
    elif (built.gpu_name, built.compute_capability) != (here.gpu_name, here.compute_capability):
        reason = "TensorRT plans are compiled and tuned for one GPU model"
    else:
        return
    raise EngineFileError(f"{source} was built with {built.describe()}, but this machine has "
                          f"{here.describe()}: {reason}. Rebuild the engine here from its ONNX file")


def save(path: str | Path, meta: EngineMeta, plan: bytes, *, force: bool = False) -> Path:
    """Write an engine file (header + plan) to ``path``, whole or not at all (an existing file only with ``force``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, pack(meta, plan), force=force)


def load(path: str | Path, here: Platform) -> tuple[EngineMeta, bytes]:
    """Read an engine file and check it was built for ``here``."""
    path = Path(path)
    if not path.is_file():
        raise EngineFileError(f"engine file {path} does not exist; build it from the ONNX file first")
    meta, plan = unpack(path.read_bytes(), source=str(path))
    check_compatible(meta, here, source=str(path))
    return meta, plan


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file, to tie an engine to the exact ONNX file it was built from."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def data_sha256(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and values: the identity of a set of calibration images."""
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def platform_slug(platform: Platform) -> str:
    """The TensorRT version and GPU as a file-name part (engine and timing cache names)."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "-", platform.gpu_name).strip("-")
    return f"trt{platform.tensorrt_version}-{gpu}"


CALIBRATION_DIGITS = 16  # of the images' SHA-256 in a cache name: 64 bits, ample for one cache folder


def engine_cache_path(cache_dir: Path, onnx_path: Path, platform: Platform, precision: str,
                      batches: tuple[int, int, int], calibration_sha256: str | None = None) -> Path:
    """Where the engine for this model, platform, precision, batch profile and (int8 calibrated by
    TensorRT) calibration images is cached."""
    profile = "-".join(map(str, batches))
    images = f"-cal{calibration_sha256[:CALIBRATION_DIGITS]}" if calibration_sha256 else ""
    return cache_dir / f"{onnx_path.stem}-{precision}{images}-b{profile}-{platform_slug(platform)}.engine"
