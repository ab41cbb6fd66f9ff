"""An int8 export: the verified float32 graph quantised (:mod:`recalib.export.quantize.recipe`), then verified
itself, on its own bounds, before anything is written.

The float32 graph is verified first as every export is (parity against float64 PyTorch; on labelled
data, its decisions too), so an int8 failure is the quantisation's, not the export's. The int8
graph is then judged on the same inputs by the runtimes of the export's verification:
:data:`~recalib.export.parity.INT8_TOLERANCE` on the logits and, on labelled data, the decision
bounds (:data:`~recalib.export.parity.INT8_MIN_AGREEMENT`, :data:`~recalib.export.parity.INT8_MAX_ACCURACY_DROP`).
"""
from __future__ import annotations

import contextlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx

from recalib.export.agreement import AgreementCheck
from recalib.export.options import ExportOptions, Quantization
from recalib.export.parity import ParityCheck
from recalib.export.quantize.placement import float_compute_nodes, gate_placements
from recalib.export.quantize.recipe import describe_recipe, quantize_graph

__all__ = ["QuantizedExport", "quantize_export"]


@dataclass
class QuantizedExport:
    """The int8 graph at ``path`` and what the export report says of it (``record``)."""

    path: Path
    proto: onnx.ModelProto
    record: dict[str, Any] = field(default_factory=dict)
    parity: list[ParityCheck] = field(default_factory=list)
    agreement: list[AgreementCheck] = field(default_factory=list)


def _quiet_quantize(source: Path, target: Path, quantization: Quantization, batch: int | None) -> list[Any]:
    """:func:`quantize_graph` without onnxruntime's advice to pre-process (logged to the root logger on every
    call; our graphs are shape-inferred and optimised already) and without its histogram calibrators'
    progress lines (printed to stdout, where they would corrupt ``--json`` output)."""
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return quantize_graph(source, target, quantization, batch)
    finally:
        logging.disable(previous)


def quantize_export(float_file: Path, target: Path, options: ExportOptions) -> QuantizedExport:
    """The QDQ form of the verified ``float_file`` written to ``target`` (a staged path), with the report's
    record of it: recipe, calibration (and its warning for random images), each gate's placement and every
    node left in float (``float_nodes``: none for a ResNet quantised by the recipe)."""
    quantization = options.quantization
    assert quantization is not None  # ExportOptions holds it for int8, and only int8 comes here
    gates = _quiet_quantize(float_file, target, quantization, options.fixed_batch)
    proto = onnx.load(str(target))
    placements = gate_placements(proto, gates)
    record: dict[str, Any] = {"recipe": describe_recipe(quantization),
                              "gates": [{"gate": p.gate, "int8": list(p.quantized), "float": list(p.float)}
                                        for p in placements],
                              "float_nodes": float_compute_nodes(proto)}
    warning = quantization.calibration.warning
    if warning:
        record["warning"] = warning
    return QuantizedExport(target, proto, record)
