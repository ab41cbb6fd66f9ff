"""Everything that differs between TensorRT 10 and TensorRT 11, in one place.

TensorRT 11 removed weak typing: every network is strongly typed (tensor types follow the ONNX
model), and the precision builder flags (``BuilderFlag.FP16`` …) are gone. So on 11, FP16 means
an FP16 ONNX model. TensorRT 10 accepts both: an FP16 ONNX model as a strongly typed network, or
an FP32 model with ``BuilderFlag.FP16`` letting the builder pick FP16 kernels (deprecated since
10.12, still the common path). :func:`plan_precision` decides, as a pure function;
:func:`network_flags` and :func:`configure_precision` apply the decision.

int8 likewise. A QDQ graph (``recalib export --precision int8``) carries its own scales: TensorRT 10 reads
them with ``BuilderFlag.INT8`` (explicit quantisation), TensorRT 11 as a strongly typed network. A float
graph is quantised by TensorRT 10's own calibrator instead (``BuilderFlag.INT8`` with an
``IInt8EntropyCalibrator2`` fed the calibration images: :mod:`.calibrator`; deprecated since 10.1 in
favour of QDQ graphs, still what most deployments use); TensorRT 11 has no calibrator, so it needs the
QDQ graph. TensorRT reads int8 Q/DQ pairs only (zero point 0): recalib's QDQ graphs quantise activations
to uint8 for the CPU runtimes' VNNI kernels, which :mod:`.qdq` refuses before any build (naming the
first such node), so on TensorRT 10 give the float graph and calibration images.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from recalib.errors import BackendUnavailable, ConfigError

if TYPE_CHECKING:
    import tensorrt as trt

__all__ = ["SUPPORTED_MAJORS", "PrecisionPlan", "major_version", "plan_precision", "network_flags",
           "configure_precision"]

SUPPORTED_MAJORS = (10, 11)
PRECISIONS = ("fp32", "fp16", "int8")
_MODEL_DTYPES = {"fp32": "float32", "fp16": "float16"}


@dataclass(frozen=True)
class PrecisionPlan:
    """How to ask TensorRT for a precision: a strongly typed network, and/or the FP16 or INT8 builder flag;
    ``calibrated``: the INT8 scales come from TensorRT's calibrator (a float graph), not from Q/DQ pairs."""

    strongly_typed: bool
    fp16_flag: bool
    int8_flag: bool = False
    calibrated: bool = False


def major_version(version: str) -> int:
    """The major version of a TensorRT version string, checked to be supported."""
    try:
        major = int(version.split(".")[0])
    except ValueError:
        raise BackendUnavailable("tensorrt", f"cannot read the TensorRT version {version!r}",
                                 'pip install -e ".[tensorrt]"') from None
    if major not in SUPPORTED_MAJORS:
        raise BackendUnavailable("tensorrt", f"TensorRT {version} is installed; recalib builds "
                                 f"engines with TensorRT {' or '.join(map(str, SUPPORTED_MAJORS))}",
                                 'pip install -e ".[tensorrt]" (installs TensorRT 10 or newer)')
    return major


def _plan_int8(tensorrt_version: str, major: int, quantized: bool) -> PrecisionPlan:
    """int8: a QDQ graph's own scales (10: the INT8 flag; 11: strongly typed), else TensorRT 10's calibrator."""
    if quantized:
        return PrecisionPlan(strongly_typed=major >= 11, fp16_flag=False, int8_flag=major == 10)
    if major == 10:
        return PrecisionPlan(strongly_typed=False, fp16_flag=False, int8_flag=True, calibrated=True)
    raise ConfigError(f"TensorRT {tensorrt_version} builds strongly typed networks only and has no calibrator, so "
                      f"int8 needs a QDQ graph with int8 (zero point 0) activations; build int8 engines with "
                      f"TensorRT 10 from the float graph and calibration images")


def plan_precision(tensorrt_version: str, precision: str, model_dtype: str, quantized: bool = False) -> PrecisionPlan:
    """Choose network typing and flags for ``precision`` given the ONNX model's input type.

    ``model_dtype`` is ``"float32"`` or ``"float16"`` (the ONNX input's element type); ``quantized`` says
    the graph is a QDQ graph (only int8 takes one).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if model_dtype not in _MODEL_DTYPES.values():
        raise ConfigError(f"the ONNX model's input is {model_dtype}; TensorRT engines here take "
                          f"float32 or float16 models")
    major = major_version(tensorrt_version)
    if precision == "int8":
        if model_dtype != "float32":
            raise ConfigError("int8 engines are built from a float32 graph (or its QDQ form); export the float32 model")
        return _plan_int8(tensorrt_version, major, quantized)
    if model_dtype == _MODEL_DTYPES[precision]:
        return PrecisionPlan(strongly_typed=True, fp16_flag=False)
    if precision == "fp16" and major == 10:
        return PrecisionPlan(strongly_typed=False, fp16_flag=True)
    if precision == "fp16":
        raise ConfigError(f"TensorRT {tensorrt_version} builds strongly typed networks only, so FP16 "
                          f"needs an FP16 ONNX model; export the half-precision module "
                          f"(model.half()) or convert the ONNX file with ModelOpt AutoCast")
    raise ConfigError("the ONNX model is float16 but precision='fp32' was asked; export the "
                      "float32 model or build with precision='fp16'")


def network_flags(plan: PrecisionPlan) -> int:
    """``create_network`` flags: STRONGLY_TYPED when the plan wants it (explicit batch is implied since 10)."""
    import tensorrt as trt

    return 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if plan.strongly_typed else 0


def configure_precision(config: trt.IBuilderConfig, plan: PrecisionPlan) -> None:
    """Set the precision builder flags of ``plan`` (FP16 or INT8, only ever on TensorRT 10)."""
    import tensorrt as trt

    if plan.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
    if plan.int8_flag:
        config.set_flag(trt.BuilderFlag.INT8)
