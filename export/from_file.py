"""An exported ``.onnx`` file taken as it is, to measure beside models built here.

Its input shape comes from the export's own ``<stem>.report.json``, else from the graph; the file
is read and checked here (:func:`recalib.export.onnx_file.read_onnx`), so a damaged or foreign file
fails before any work. A report is trusted only for the file whose digest it records: one copied
beside another model, or an old one beside a newer file (an interrupted ``--force`` export), says
nothing about this file, and the output says so instead of quoting its parity.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import onnx

from recalib.errors import ConfigError
from recalib.export.onnx_file import read_onnx
from recalib.export.quantize.placement import is_quantized
from recalib.export.prepared import Prepared
from recalib.infra.reading import file_sha256, parse_json, read_bounded
from recalib.spec import Spec

__all__ = ["from_file"]


def _read_report(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The export's own ``<stem>.report.json`` beside ``path`` if it is readable and records ``path``'s
    digest; else None, with why it is not trusted."""
    name = path.with_suffix(".report.json").name
    if not os.path.lexists(path.with_suffix(".report.json")):
        return None, "no PyTorch model, no export report"
    try:
        report = parse_json(read_bounded(path.with_suffix(".report.json"), what="export report"), name)
    except ConfigError as exc:
        return None, f"its report {name} is unreadable: {exc}"
    if not isinstance(report, dict) or not isinstance(report.get("input_dims"), list):
        return None, f"{name} is not an export report"
    if report.get("sha256") != file_sha256(path):
        return None, f"{name} describes another file (its recorded digest is not {path.name}'s)"
    return report, ""


def _graph_dims(graph: onnx.ModelProto, path: Path) -> list[int | str]:
    from recalib.export.inputs import declared_inputs

    inputs = declared_inputs(graph)
    if len(inputs) != 1:
        raise ConfigError(f"{path} has {len(inputs)} inputs; recalib measures models with one input")
    return list(inputs[0][1])


def _figure(value: Any) -> str:
    """A number of a report read from disk, which may say anything."""
    return f"{value:.1e}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "unknown"


def from_file(spec: Spec, label: str | None = None) -> Prepared:
    """An exported ``.onnx`` file as it is, with the input shape of its report, else of its graph."""
    if spec.kind != "onnx" or spec.path is None:
        raise ConfigError(f"{spec.text} is not an .onnx file; TensorRT engines are read by the tensorrt runtime")
    graph = read_onnx(spec.path)  # a damaged or foreign file fails here, before any work
    report, why = _read_report(spec.path)
    dims = report["input_dims"] if report is not None else _graph_dims(graph, spec.path)
    if len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims[1:]):
        raise ConfigError(f"{spec.path}: input dims {dims} are not (batch, C, H, W) with a static image "
                          f"size; export with recalib export (static H and W)")
    batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
    chw = (int(dims[1]), int(dims[2]), int(dims[3]))
    verified = (f"at export ({spec.path.with_suffix('.report.json').name}): max error "
                f"{_figure(report.get('max_rel_error'))}, tolerance {_figure(report.get('tolerance'))}"
                if report is not None else f"not checked here ({why})")
    return Prepared(label or spec.text, spec, chw, file=spec.path, fixed_batch=batch, verified=verified,
                    quantized=is_quantized(graph))
