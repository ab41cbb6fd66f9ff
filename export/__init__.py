"""ONNX export with standard ops only, verified against PyTorch, with constants folded.

>>> report = export.to_onnx(model, (3, 224, 224), "model.onnx")  # doctest: +SKIP
>>> print(report.summary())  # doctest: +SKIP

:mod:`export.prepare` is the one preparation step (spec → seeded, calibrated model → verified
export); :mod:`export.parity` the one parity definition; runners call
:func:`validate_inputs` (or :func:`run_onnx`) before running a graph, so an input of the wrong
size fails with a clear :class:`recalib.errors.ShapeError`; :mod:`export.agreement` verifies
on labelled data (:mod:`export.labelled`) instead of random inputs. The API is loaded lazily: a
runtime worker that needs only :mod:`export.inputs` or :mod:`export.parity` never imports
torch or the exporter.
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "to_onnx": "export.onnx_export", "check_opset": "export.onnx_export", "DEFAULT_OPSET": "export.onnx_export",
    "SUPPORTED_OPSETS": "export.onnx_export", "ExportReport": "export.report", "Finding": "export.trt_lint",
    "lint": "export.trt_lint", "declared_inputs": "export.inputs", "validate_inputs": "export.inputs",
    "run_onnx": "export.verify", "ort_session": "export.verify", "fold": "recalib.folding",
    "fold_model": "recalib.folding", "prepare": "export.prepare", "PrepareOptions": "export.prepare",
    "load_labelled": "export.labelled", "LabelledData": "export.labelled",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'export' has no attribute {name!r}")
