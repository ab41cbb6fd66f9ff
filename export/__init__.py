"""ONNX export with standard ops only, verified against PyTorch, with constants folded.

>>> report = export.to_onnx(model, (3, 224, 224), "model.onnx")  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP

Runners call :func:`validate_inputs` (or :func:`run_onnx`) before running a graph, so an input
of the wrong size fails with a clear :class:`recalib.errors.ShapeError`.
"""
from __future__ import annotations

from export.onnx_export import DEFAULT_OPSET, SUPPORTED_OPSETS, check_opset, to_onnx
from export.report import ExportReport
from export.trt_lint import Finding, lint
from export.verify import declared_inputs, ort_session, run_onnx, validate_inputs
from recalib.folding import fold, fold_model

__all__ = ["to_onnx", "fold", "fold_model", "ExportReport", "Finding", "lint", "declared_inputs",
           "validate_inputs", "run_onnx", "ort_session", "check_opset", "DEFAULT_OPSET",
           "SUPPORTED_OPSETS"]
