"""``tensorrt``: ONNX → TensorRT engine (with a metadata header) → inference on CUDA buffers.

Layout: :mod:`.engine_file` (the file format, compatibility check and cache names, pure Python),
:mod:`.qdq` (which QDQ graphs TensorRT reads, pure Python),
:mod:`._compat` (what differs between TensorRT 10 and 11), :mod:`.build` (parser, builder
config, optimisation profile, timing cache) and :mod:`.runner` (execution context on a torch
CUDA stream). Only this module's functions are public; they import TensorRT lazily so the
pure parts stay importable (and testable) without it.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from recalib.deploy.availability import require
from recalib.deploy.backends.tensorrt.engine_file import (EngineMeta, Platform, data_sha256, engine_cache_path,
                                                          file_sha256, load, platform_slug, save)
from recalib.deploy.backends.tensorrt.qdq import check_qdq_form
from recalib.deploy.runner_options import RunnerOptions
from recalib.export.quantize.calibration import CalibrationSet, load_calibration

if TYPE_CHECKING:
    from recalib.deploy.backends.tensorrt.runner import TensorRTRunner

__all__ = ["current_platform", "create_tensorrt_runner", "engine_cache_path"]


def current_platform(device: str = "cuda") -> Platform:
    """The installed TensorRT version and the GPU behind ``device``."""
    import tensorrt as trt
    import torch

    major, minor = torch.cuda.get_device_capability(device)
    return Platform(tensorrt_version=trt.__version__, gpu_name=torch.cuda.get_device_name(device),
                    compute_capability=f"{major}.{minor}")


def _matches(meta: EngineMeta, onnx_path: Path, precision: str, batches: tuple[int, int, int],
             calibration_sha256: str | None) -> bool:
    return (meta.onnx_sha256 == file_sha256(onnx_path) and meta.precision == precision
            and (meta.min_shape[0], meta.opt_shape[0], meta.max_shape[0]) == batches
            and meta.calibration_sha256 == calibration_sha256)


def _calibration(onnx_path: Path, source: str | None) -> CalibrationSet | None:
    """The images TensorRT calibrates the float graph at ``onnx_path`` on (None when none are given), read and
    checked against the graph's input before anything is built."""
    if source is None:
        return None
    import onnx

    dims = onnx.load(str(onnx_path), load_external_data=False).graph.input[0].type.tensor_type.shape.dim
    return load_calibration(source, [d.dim_value for d in dims[1:]])


def create_tensorrt_runner(path: str | Path, *, device: str = "cuda",
                           options: RunnerOptions = RunnerOptions()) -> TensorRTRunner:
    """A runner for an ``.engine`` file (checked against this platform) or an ``.onnx`` file.

    From ONNX, builds an engine for ``options.precision`` whose profile covers batches
    ``(min, opt, max) = options.batches`` (default ``(1, 1, 1)``). With ``options.cache_dir``,
    engines and the timing cache are kept there and an engine built earlier from the same ONNX
    file with the same settings (for an engine TensorRT calibrated, on the same images: their hash is
    in the cache name and the header) is reused. ``options.threads`` (host CPU threads) is accepted
    like every runtime's and has nothing to set: the engine runs on the GPU. int8 builds from a
    symmetric int8 QDQ graph (one TensorRT cannot read, such as recalib's uint8 form, is refused
    first: :mod:`.qdq`), or, on TensorRT 10, from the float graph calibrated on ``options.calibration``
    (:mod:`.calibrator`).
    """
    require("tensorrt", device)
    from recalib.deploy.backends.tensorrt.build import BuildOptions, build_engine
    from recalib.deploy.backends.tensorrt.runner import TensorRTRunner

    path, here = Path(path), current_platform(device)
    if path.suffix == ".engine":
        return TensorRTRunner(*load(path, here), device=device)
    check_qdq_form(path)
    precision, batches, cache = options.compute_precision, options.batches or (1, 1, 1), options.cache_dir
    calibration = _calibration(path, options.calibration)
    # an engine calibrated on other images is another engine: the images' hash names its cache entry
    images = None if calibration is None else data_sha256(calibration.inputs)
    cached = engine_cache_path(cache, path, here, precision, batches, images) if cache else None
    if cached is not None and cached.is_file():
        meta, plan = load(cached, here)
        if _matches(meta, path, precision, batches, images):
            return TensorRTRunner(meta, plan, device=device)
    timing = cache / f"timing-{platform_slug(here)}.cache" if cache else None
    build = BuildOptions(precision=precision, calibration=calibration, min_batch=batches[0],
                         opt_batch=batches[1], max_batch=batches[2], workspace_bytes=options.workspace_bytes,
                         timing_cache=timing)
    meta, plan = build_engine(path, here, build)
    if cached is not None:
        save(cached, meta, plan, force=True)  # the cache entry of exactly this build
    return TensorRTRunner(meta, plan, device=device)
