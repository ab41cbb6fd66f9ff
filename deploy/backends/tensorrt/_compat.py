"""Everything that differs between TensorRT 10 and TensorRT 11, in one place.

TensorRT 11 removed weak typing: every network is strongly typed (tensor types follow the ONNX
model), and the precision builder flags (``BuilderFlag.FP16`` …) are gone. So on 11, FP16 means
an FP16 ONNX model. TensorRT 10 accepts both: an FP16 ONNX model as a strongly typed network, or
an FP32 model with ``BuilderFlag.FP16`` letting the builder pick FP16 kernels (deprecated since
10.12, still the common path). :func:`plan_precision` decides, as a pure function;
:func:`network_flags` and :func:`configure_precision` apply the decision.
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
PRECISIONS = ("fp32", "fp16")
_MODEL_DTYPES = {"fp32": "float32", "fp16": "float16"}


@dataclass(frozen=True)
class PrecisionPlan:
    """How to ask TensorRT for a precision: a strongly typed network, and/or the FP16 builder flag."""

    strongly_typed: bool
    fp16_flag: bool


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


def plan_precision(tensorrt_version: str, precision: str, model_dtype: str) -> PrecisionPlan:
    """Choose network typing and flags for ``precision`` given the ONNX model's input type.

    ``model_dtype`` is ``"float32"`` or ``"float16"`` (the ONNX input's element type).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    if model_dtype not in _MODEL_DTYPES.values():
        raise ConfigError(f"the ONNX model's input is {model_dtype}; TensorRT engines here take "
                          f"float32 or float16 models")
    major = major_version(tensorrt_version)
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
    """Set the precision builder flags of ``plan`` (only ever FP16, and only on TensorRT 10)."""
    import tensorrt as trt

    if plan.fp16_flag:
        config.set_flag(trt.BuilderFlag.FP16)
