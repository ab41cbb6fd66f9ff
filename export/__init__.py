"""ONNX export with standard ops only, verified against PyTorch, with constants folded.

>>> report = export.to_onnx(model, (3, 224, 224), "model.onnx")  # doctest: +SKIP
>>> report = export.to_onnx(model, (3, 224, 224), "b8.onnx", export.ExportOptions(fixed_batch=8))  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP

:mod:`recalib.export.options` holds the option records (:class:`ExportOptions`, :class:`PrepareOptions`);
:mod:`recalib.export.prepare` is the one preparation step (spec → seeded, calibrated model → verified
export); :mod:`recalib.export.parity` the one parity definition; runners call
:func:`validate_inputs` (or :func:`run_onnx`) before running a graph, so an input of the wrong
size fails with a clear :class:`recalib.errors.ShapeError`; :mod:`recalib.export.agreement` verifies
on labelled data (:mod:`recalib.export.labelled`) instead of random inputs;
:func:`optimize_file` (:mod:`recalib.export.optimize_file`) applies the exact rewrites to an ONNX file
from any exporter and verifies it against itself. The API is loaded lazily: a
runtime worker that needs only :mod:`recalib.export.inputs` or :mod:`recalib.export.parity` never imports
torch or the exporter.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "to_onnx": "recalib.export.onnx_export", "ExportOptions": "recalib.export.options",
    "Verification": "recalib.export.options", "PrepareOptions": "recalib.export.options",
    "check_opset": "recalib.export.options", "DEFAULT_OPSET": "recalib.export.options",
    "supported_opsets": "recalib.export.options", "ExportReport": "recalib.export.report",
    "Finding": "recalib.export.trt_lint", "lint": "recalib.export.trt_lint", "declared_inputs": "recalib.export.inputs",
    "validate_inputs": "recalib.export.inputs", "run_onnx": "recalib.export.verify", "ort_session": "recalib.export.verify",
    "fold": "recalib.folding", "fold_model": "recalib.folding", "prepare": "recalib.export.prepare",
    "load_labelled": "recalib.export.labelled", "LabelledData": "recalib.export.labelled",
    "optimize_file": "recalib.export.optimize_file", "OptimizeOptions": "recalib.export.options",
    "OptimizeReport": "recalib.export.optimize_report",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'recalib.export' has no attribute {name!r}")
