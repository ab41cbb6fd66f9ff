"""Build a TensorRT engine from an ONNX file: parse, configure, profile, build, serialize.

Needs TensorRT and a GPU; import only after ``deploy.availability.require("tensorrt")``. The
version-specific choices (typing, precision flags) come from :mod:`._compat`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import tensorrt as trt

from recalib.deploy.backends.tensorrt._compat import configure_precision, network_flags, plan_precision
from recalib.deploy.backends.tensorrt.calibrator import EntropyCalibrator
from recalib.deploy.backends.tensorrt.engine_file import EngineMeta, Platform, data_sha256, file_sha256
from recalib.export.quantize.calibration import CalibrationSet
from recalib.infra.atomic import write_atomic
from recalib.errors import ConfigError, ExportError

__all__ = ["BuildOptions", "build_engine", "onnx_input_dtype", "make_logger"]


@dataclass(frozen=True)
class BuildOptions:
    """What to build: precision, batch range of the optimisation profile, builder resources.

    The profile covers batches ``min_batch..max_batch`` and is tuned for ``opt_batch``; the other
    input dims come from the ONNX model, which must declare them statically. ``timing_cache``
    is a file read before and written after the build, so rebuilding similar engines is fast.
    """

    precision: str = "fp32"
    calibration: CalibrationSet | None = None  # int8 from a float graph on TensorRT 10: the images, checked
    min_batch: int = 1
    opt_batch: int = 1
    max_batch: int = 1
    workspace_bytes: int | None = None
    timing_cache: Path | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ConfigError(f"need 1 <= min_batch <= opt_batch <= max_batch, got "
                              f"{self.min_batch}, {self.opt_batch}, {self.max_batch}")


def make_logger() -> trt.Logger:
    """A logger that prints TensorRT's warnings and errors (its info output is a flood)."""
    return trt.Logger(trt.Logger.WARNING)


def onnx_input_dtype(onnx_path: Path) -> str:
    """The element type (``float32``/``float16``/…) of the ONNX model's first input."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    elem_type = model.graph.input[0].type.tensor_type.elem_type
    return str(onnx.helper.tensor_dtype_to_np_dtype(elem_type))


def _parse(builder: trt.Builder, logger: trt.Logger, onnx_path: Path,
           flags: int) -> tuple[trt.INetworkDefinition, trt.OnnxParser]:
    """The parsed network, and its parser, which owns the weights and must outlive the build."""
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"TensorRT's ONNX parser rejected {onnx_path}: {errors}. Check the export "
                          f"report's TensorRT findings for unsupported operators")
    return network, parser


Shape = tuple[int, ...]


def _profile_shapes(network: trt.INetworkDefinition,
                    options: BuildOptions) -> tuple[str, Shape, Shape, Shape]:
    """Input name and min/opt/max shapes: the batch dim from ``options``, the rest from the model."""
    if network.num_inputs != 1:
        raise ConfigError(f"the model has {network.num_inputs} inputs; engines here take one")
    tensor = network.get_input(0)
    dims = tuple(tensor.shape[i] for i in range(len(tensor.shape)))
    if any(d < 0 for d in dims[1:]):
        raise ConfigError(f"input {tensor.name} has dynamic non-batch dims {dims}; export with a "
                          f"fixed input size (only the batch may be dynamic)")
    if dims[0] >= 0 and not options.min_batch == options.max_batch == dims[0]:
        raise ConfigError(f"the ONNX model fixes batch {dims[0]}; export with dynamic_batch=True "
                          f"to build for batches {options.min_batch}..{options.max_batch}")
    rest = dims[1:]
    return (tensor.name, (options.min_batch, *rest), (options.opt_batch, *rest),
            (options.max_batch, *rest))


def _load_timing_cache(config: trt.IBuilderConfig, path: Path | None) -> None:
    blob = path.read_bytes() if path is not None and path.is_file() else b""
    cache = config.create_timing_cache(blob)
    # A cache from another GPU or TensorRT version is refused (set_timing_cache returns False with
    # ignore_mismatch=False); start from an empty one rather than trust it or build without one.
    if not config.set_timing_cache(cache, ignore_mismatch=False):
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)


def _save_timing_cache(config: trt.IBuilderConfig, path: Path | None) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, bytes(config.get_timing_cache().serialize()), force=True)  # a cache: this run's own file


def _is_qdq(onnx_path: Path) -> bool:
    import onnx

    from recalib.export.quantize.placement import is_quantized

    return is_quantized(onnx.load(str(onnx_path), load_external_data=False))


def _calibrate(config: trt.IBuilderConfig, profile: trt.IOptimizationProfile, options: BuildOptions,
               opt: Shape) -> EntropyCalibrator:
    """TensorRT 10's entropy calibrator on ``options.calibration`` at the profile's ``opt`` shape."""
    if options.calibration is None:
        raise ConfigError("an int8 engine from a float graph is calibrated by TensorRT on calibration images: "
                          "pass calibration='digits', an .npz path or 'random' (or give the QDQ graph)")
    calibrator = EntropyCalibrator(options.calibration, opt[0])
    config.int8_calibrator = calibrator
    config.set_calibration_profile(profile)
    return calibrator


def build_engine(onnx_path: Path, platform: Platform, options: BuildOptions) -> tuple[EngineMeta, bytes]:
    """Build a serialized engine for ``onnx_path`` on this GPU; returns its metadata and plan."""
    logger = make_logger()
    builder = trt.Builder(logger)
    model_dtype = onnx_input_dtype(onnx_path)
    plan = plan_precision(trt.__version__, options.precision, model_dtype, _is_qdq(onnx_path))
    # _parser stays referenced until the build ends: it owns the weights the network points to.
    network, _parser = _parse(builder, logger, onnx_path, network_flags(plan))
    config = builder.create_builder_config()
    if options.workspace_bytes is not None:
        config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, options.workspace_bytes)
    configure_precision(config, plan)
    name, lo, opt, hi = _profile_shapes(network, options)
    profile = builder.create_optimization_profile()
    profile.set_shape(name, trt.Dims(list(lo)), trt.Dims(list(opt)), trt.Dims(list(hi)))
    config.add_optimization_profile(profile)
    # kept referenced until the build ends: TensorRT calls back into it while building
    _calibrator = _calibrate(config, profile, options, opt) if plan.calibrated else None
    _load_timing_cache(config, options.timing_cache)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"TensorRT could not build an engine from {onnx_path} at precision "
                          f"{options.precision}; its log above names the failing layer")
    _save_timing_cache(config, options.timing_cache)
    images = None if options.calibration is None else data_sha256(options.calibration.inputs)
    meta = EngineMeta(platform=platform, precision=options.precision, input_name=name,
                      input_dtype=model_dtype, min_shape=lo, opt_shape=opt, max_shape=hi,
                      onnx_sha256=file_sha256(onnx_path), calibration_sha256=images)
    return meta, bytes(serialized)
