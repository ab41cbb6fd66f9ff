"""Check an ONNX graph against the TensorRT 10.0 ONNX parser's operator table.

The table and restrictions are transcribed from onnx-tensorrt's ``docs/operators.md`` for
TensorRT 10.0 (``shared/reference/onnx-tensorrt-operators-10.0.md``); they are embedded here so
the check works on a machine without that file. Only restrictions that can be decided from the
graph are checked: opset range, supported ops, attribute values, inputs that must be
initializers, unsupported extra outputs, tensor types.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from typing import Any

import onnx

from recalib.export.graph.index import GraphIndex, attribute

__all__ = ["Finding", "lint", "TRT_VERSION", "TRT_OPSETS"]

TRT_VERSION = "10.0"
TRT_OPSETS = range(9, 21)  # inclusive 9..20

SUPPORTED = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast
CastLike Ceil Celu Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum
DeformConv DepthToSpace DequantizeLinear Div Dropout Einsum Elu Equal Erf Exp Expand EyeLike
Flatten Floor Gather GatherElements GatherND Gelu Gemm GlobalAveragePool GlobalLpPool
GlobalMaxPool Greater GreaterOrEqual GridSample GroupNormalization GRU HardSigmoid HardSwish
Hardmax Identity If ImageScaler InstanceNormalization IsInf IsNaN LayerNormalization LeakyRelu
Less LessOrEqual Log LogSoftmax Loop LRN LSTM LpNormalization LpPool MatMul Max MaxPool Mean
MeanVarianceNormalization Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad
ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform
RandomUniformLike Range Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax
ReduceMean ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Resize ReverseSequence RNN
RoiAlign Round ScaledTanh Scan Scatter ScatterElements ScatterND Selu Shape Shrink Sigmoid Sign
Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan Tanh
ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor""".split())

# Inputs (by position) that the parser needs as initializers / constants.
CONSTANT_INPUTS = {"CumSum": 1, "Slice": 3, "Squeeze": 1, "Unsqueeze": 1, "Pad": 3, "Dropout": 2,
                   **{f"Reduce{k}": 1 for k in ("L1", "L2", "LogSum", "LogSumExp", "Max", "Mean",
                                                   "Min", "Prod", "Sum", "SumSquare")}}
RESIZE_ALLOWED = {
    "coordinate_transformation_mode": {"half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn",
                                       "asymmetric", "align_corners"},
    "mode": {"nearest", "linear"},
    "nearest_mode": {"floor", "ceil", "round_prefer_floor", "round_prefer_ceil"},
    "keep_aspect_ratio_policy": {"stretch"},
}
RESIZE_DEFAULTS = {"coordinate_transformation_mode": "half_pixel", "mode": "nearest",
                   "nearest_mode": "round_prefer_floor", "keep_aspect_ratio_policy": "stretch"}
TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16,
         onnx.TensorProto.INT32, onnx.TensorProto.INT64, onnx.TensorProto.BOOL, onnx.TensorProto.INT8}


@dataclass(frozen=True)
class Finding:
    """One reason the TensorRT parser may reject or mis-handle the graph."""

    node: str
    op: str
    rule: str
    message: str


@dataclass
class _Graph:
    constants: set[str]
    consumed: set[str]


def _str(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def _check_pool(node: onnx.NodeProto, graph: _Graph) -> Iterable[str]:
    dilations = attribute(node, "dilations") or []
    if any(d != 1 for d in dilations):
        yield f"dilations must be empty or all ones, got {list(dilations)}"
    kernel = attribute(node, "kernel_shape") or []
    if node.op_type != "LpPool" and len(kernel) not in (2, 3):
        yield f"only 2D or 3D pooling is supported, got a {len(kernel)}-D kernel"
    if node.op_type == "MaxPool" and len(node.output) > 1 and node.output[1] in graph.consumed:
        yield "the Indices output of MaxPool is unsupported"


def _check_resize(node: onnx.NodeProto, graph: _Graph) -> Iterable[str]:
    for name, allowed in RESIZE_ALLOWED.items():
        value = _str(attribute(node, name, RESIZE_DEFAULTS[name]))
        if value not in allowed:
            yield f"{name}={value!r} is unsupported (supported: {', '.join(sorted(allowed))})"
    if attribute(node, "antialias", 0):
        yield "antialiasing is unsupported"
    axes = attribute(node, "axes")
    has_scales = len(node.input) > 2 and node.input[2] != ""
    if has_scales and axes is not None and list(axes) != list(range(len(axes))):
        yield f"with a scales input, axes must be an iota vector, got {list(axes)}"


def _check_constant(node: onnx.NodeProto, graph: _Graph) -> Iterable[str]:
    for name in ("sparse_value", "value_string", "value_strings"):
        if attribute(node, name) is not None:
            yield f"the {name} attribute is unsupported"


def _check_topk(node: onnx.NodeProto, graph: _Graph) -> Iterable[str]:
    if attribute(node, "sorted", 1) != 1:
        yield "sorted must be 1"


def _check_first_output_only(node: onnx.NodeProto, graph: _Graph) -> Iterable[str]:
    if any(o in graph.consumed for o in node.output[1:]):
        yield "only the first output Y is supported"


CHECKS: dict[str, Callable[[onnx.NodeProto, _Graph], Iterable[str]]] = {
    "AveragePool": _check_pool, "MaxPool": _check_pool, "LpPool": _check_pool,
    "Resize": _check_resize, "Constant": _check_constant, "TopK": _check_topk,
    "LayerNormalization": _check_first_output_only,
}


def _node_findings(node: onnx.NodeProto, graph: _Graph) -> list[Finding]:
    name = node.name or node.output[0]
    if node.domain not in ("", "ai.onnx"):
        return [Finding(name, node.op_type, "domain", f"custom domain {node.domain!r} is not parsed")]
    if node.op_type not in SUPPORTED:
        return [Finding(name, node.op_type, "unsupported-op",
                        f"{node.op_type} is not supported by TensorRT {TRT_VERSION}'s ONNX parser")]
    messages = list(CHECKS.get(node.op_type, lambda n, g: ())(node, graph))
    position = CONSTANT_INPUTS.get(node.op_type)
    if position is not None and len(node.input) > position and node.input[position] \
            and node.input[position] not in graph.constants:
        messages.append(f"input {position} (axes/axis/flag) must be an initializer, but is computed")
    return [Finding(name, node.op_type, "restriction", m) for m in messages]


def _type_findings(model: onnx.ModelProto) -> list[Finding]:
    tensors = [(t.name, t.data_type) for t in model.graph.initializer]
    tensors += [(v.name, v.type.tensor_type.elem_type) for v in (*model.graph.input, *model.graph.output)]
    return [Finding(name, "-", "type", f"tensor type {onnx.TensorProto.DataType.Name(dtype)} is "
                                       f"unsupported or limited (DOUBLE is cast down to FLOAT)")
            for name, dtype in tensors if dtype not in TYPES]


def lint(model: onnx.ModelProto) -> list[Finding]:
    """Every TensorRT 10.0 parser finding for ``model``; an empty list means none known."""
    findings = []
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset not in TRT_OPSETS:
        findings.append(Finding("<model>", "-", "opset", f"opset {opset} is outside TensorRT "
                                f"{TRT_VERSION}'s range {TRT_OPSETS.start}-{TRT_OPSETS.stop - 1}"))
    index = GraphIndex(model)
    graph = _Graph(index.constants, index.consumed)
    for node in model.graph.node:
        findings.extend(_node_findings(node, graph))
    return findings + _type_findings(model)
