"""The int8 recipe: one static post-training quantisation of an exported float32 graph.

onnxruntime's ``quantize_static`` in the QDQ format: weights int8, symmetric, one scale per output
channel (a convolution's filters differ by orders of magnitude; one scale per tensor would round the
small ones to zero); activations uint8 with ranges read from the calibration images by the
calibration method (the u8 x s8 products are what VNNI's ``vpdpbusd`` computes, and what OpenVINO's
CPU plugin expects).

A gate (:mod:`recalib.export.gates`) is a pooled descriptor, a small transform, a squash and a
broadcast multiply. By default it is quantised like the rest, so the runtime may fuse its multiply
into the int8 stream; ``gates_in_float`` leaves every node of each gate, its multiply included, in
float: the choice when a gate's int8 rounding moves decisions (a sigmoid's output near 1 has few
uint8 steps between 0.99 and 1), at the price of a dequantise/quantise pair around each gate.

Every option of ``quantize_static`` the graph depends on is set here, explicitly (:data:`EXTRA_OPTIONS`
and the arguments of :func:`quantize_graph`), not left to defaults that change between releases.
Placed so, a ResNet's QDQ graph has no float node (:func:`~recalib.export.quantize.placement.float_compute_nodes`
is empty): every convolution, residual ``Add`` and gate runs in int8, and each ReLU is absorbed by
the uint8 range that starts at 0. Measured on ResNet-50 (AVX-512 VNNI, 1 thread): OpenVINO runs all 53
convolutions u8 x s8 and fuses each residual ``Add`` into the convolution before it as a sum post-op;
onnxruntime runs ``QLinearConv``/``QLinearAdd``; int8 is 3.4-4x faster than float32 on both. Tried
and measured worse: symmetric int8 activations (the ReLUs stay as nodes), NNCF's placement for
OpenVINO (no faster; it keeps the SE transforms in f32).
"""
from __future__ import annotations

from pathlib import Path

import onnx

from recalib.errors import DataError, ExportError, first_line
from recalib.export.gates.detect import find_gates
from recalib.export.gates.gate import Gate
from recalib.export.options import Quantization
from recalib.export.quantize.calibration import Reader, check_histogram_memory, ort_method

__all__ = ["describe_recipe", "quantize_graph", "float_nodes", "EXTRA_OPTIONS"]

EXTRA_OPTIONS: dict[str, object] = {
    "WeightSymmetric": True,  # zero point 0: the s8 operand of VNNI's u8 x s8 products, and TensorRT's only kind
    # uint8 with a zero point: a ReLU's [0, max] output gets all 256 steps and the ReLU itself goes
    # (the QuantizeLinear clamps at 0); symmetric activations keep every ReLU as a node and halve
    # its steps (ResNet-50 measured 1.2x slower on OpenVINO)
    "ActivationSymmetric": False,
    "QDQKeepRemovableActivations": False,  # the ReLUs above are removed, not kept between Q/DQ pairs
    "ForceQuantizeNoInputCheck": False,  # a data-moving node (MaxPool, Reshape) with a float input stays float
}


def describe_recipe(quantization: Quantization) -> dict[str, object]:
    """The recipe as the export report records it."""
    return {"format": "QDQ (onnxruntime quantize_static)", "weights": "int8, symmetric, per output channel",
            "activations": f"uint8, asymmetric, {quantization.method} ranges", "calibration": quantization.calibration.name,
            "calibration_method": quantization.method,
            "gates_in_float": quantization.gates_in_float}


def float_nodes(gates: list[Gate], gates_in_float: bool) -> list[str]:
    """The nodes the recipe leaves in float: each gate's branch and multiply, when ``gates_in_float``."""
    if not gates_in_float:
        return []
    return [name for gate in gates for name in (*gate.nodes, gate.mul)]


def quantize_graph(source: Path, target: Path, quantization: Quantization, batch: int | None) -> list[Gate]:
    """Write the QDQ form of the float32 graph ``source`` to ``target``; return the gates found in it.

    ``batch`` is the graph's fixed batch (None: dynamic). Raises :class:`ExportError` when onnxruntime
    cannot quantise the graph, :class:`ConfigError` (before quantising) when a histogram calibration
    method would not fit in memory.
    """
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    calibration = quantization.calibration
    if batch is not None and len(calibration.inputs) < batch:
        raise DataError(f"{calibration.name}: {len(calibration.inputs)} images do not fill one batch of the "
                        f"fixed-batch graph ({batch}); give at least {batch}")
    model = onnx.load(str(source))
    check_histogram_memory(model, calibration, quantization.method)
    gates = find_gates(model)
    input_name = model.graph.input[0].name
    try:
        quantize_static(model, str(target), Reader(calibration, input_name, batch), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        nodes_to_exclude=float_nodes(gates, quantization.gates_in_float),
                        calibrate_method=ort_method(quantization.method), extra_options=dict(EXTRA_OPTIONS))
    except Exception as exc:  # onnxruntime's tools raise untyped errors from deep inside
        raise ExportError(f"onnxruntime could not quantise {source.name}: {first_line(exc)}") from exc
    return gates
