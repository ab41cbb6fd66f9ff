"""Which QDQ graphs TensorRT reads: int8 Q/DQ pairs with zero point 0 (symmetric quantisation) only.

TensorRT's ONNX parser refuses a QuantizeLinear or DequantizeLinear whose zero point is not all zeros
("TRT only supports symmetric quantization"), and it has no uint8 activations. recalib's own QDQ graphs
(``recalib export --precision int8``) quantise activations to uint8 with a zero point per tensor, the form
the CPU runtimes' VNNI kernels take (:mod:`recalib.export.quantize.recipe`), so TensorRT cannot build them;
TensorRT 10 builds int8 from the float32 graph with its own calibrator instead. :func:`check_qdq_form` says
so before any engine is built. Pure Python (onnx and numpy): testable without TensorRT.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from recalib.errors import ConfigError
from recalib.export.graph.index import GraphIndex
from recalib.export.quantize.placement import QDQ_OPS

__all__ = ["asymmetric_qdq_nodes", "check_qdq_form"]


def asymmetric_qdq_nodes(model: onnx.ModelProto) -> list[str]:
    """The Q/DQ nodes of ``model`` TensorRT cannot read: a uint8 zero point, or one that is not all zeros
    (``op_type:name (why)``); any other type is left to TensorRT's parser. So is a node without a zero point."""
    index = GraphIndex(model)
    found = []
    for node in model.graph.node:
        if node.op_type not in QDQ_OPS:
            continue
        values = index.value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if values is None:
            continue
        if values.dtype == np.uint8 or values.any():
            found.append(f"{node.op_type}:{node.name} ({values.dtype} zero point {values.flat[0]})")
    return found


def check_qdq_form(onnx_path: Path) -> None:
    """Refuse (:class:`ConfigError`) a QDQ graph TensorRT cannot read, naming the first such node and what to give
    instead; a float graph, or a symmetric int8 QDQ graph, passes."""
    found = asymmetric_qdq_nodes(onnx.load(str(onnx_path), load_external_data=False))
    if found:
        raise ConfigError(f"{onnx_path.name} is a QDQ graph TensorRT cannot read: it reads int8 Q/DQ pairs with zero "
                          f"point 0 only, and {len(found)} Q/DQ nodes are not (the first: {found[0]}); recalib's int8 "
                          f"exports quantise activations to uint8 for the CPU runtimes. Give TensorRT the float32 "
                          f".onnx with calibration images (--precision int8 --calibration ...): TensorRT 10 "
                          f"calibrates it itself")
