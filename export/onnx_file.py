"""An ONNX file someone hands us, checked before a runtime sees it.

Runtimes answer a damaged or foreign file with their own untyped errors, from deep inside
(onnxruntime's ``INVALID_PROTOBUF``, OpenVINO's parser, TensorRT's). :func:`read_onnx`
refuses, with what is wrong and what to do, an empty file, one that does not parse as an ONNX
model (truncated, or another format), one without a graph, and one using ops outside the
default ONNX domain (recalib's runtimes run standard ONNX only); :func:`check_domains` is the
one domain check, shared with the verification of recalib's own exports. :func:`write_graph` is
the one way a graph is written: one self-contained file, or the file and ``<name>.data`` when
the weights exceed protobuf's limit. Pure ONNX, no torch.
"""
from __future__ import annotations

import os
from pathlib import Path

import onnx
from onnxscript import ir

from recalib.errors import ConfigError, ExportError, RecalibError, first_line
from recalib.infra.reading import check_regular

__all__ = ["DEFAULT_DOMAINS", "EXTERNAL_DATA_BYTES", "foreign_ops", "check_domains", "read_onnx", "write_graph"]

DEFAULT_DOMAINS = ("", "ai.onnx")
EXTERNAL_DATA_BYTES = 1_800_000_000  # protobuf's 2 GiB limit, with room for the graph itself
_PROTOBUF_LIMIT = 2**31  # no .onnx file is larger: bigger weights live in external data
_FIX = "export it again (recalib export MODEL -o FILE)"


def foreign_ops(model: onnx.ModelProto) -> list[str]:
    """``domain::Op`` of every op outside the default ONNX domain (local functions and foreign opsets too)."""
    nodes = [n for n in model.graph.node if n.domain not in DEFAULT_DOMAINS]
    domains = {o.domain for o in model.opset_import} - set(DEFAULT_DOMAINS) - {n.domain for n in nodes}
    return (sorted({f"{n.domain}::{n.op_type}" for n in nodes}) + (["local functions"] if model.functions else [])
            + sorted(f"opset {d}" for d in domains))


def check_domains(model: onnx.ModelProto, what: str, consequence: str,
                  error: type[RecalibError] = ConfigError) -> None:
    """Raise ``error`` when ``what`` (the model) uses ops outside the default ONNX domain."""
    foreign = foreign_ops(model)
    if foreign:
        raise error(f"{what} uses ops outside the default ONNX domain ({', '.join(foreign)}); {consequence}")


def read_onnx(path: str | os.PathLike) -> onnx.ModelProto:
    """The model at ``path`` (external weights not loaded), or a :class:`ConfigError` saying what is wrong."""
    path = Path(path)
    if not os.path.exists(path):
        raise ConfigError(f"{path}: no such file; give the path of an .onnx file")
    check_regular(path, _PROTOBUF_LIMIT, "ONNX file")  # a FIFO, a device, a folder: said as what it is
    if path.stat().st_size == 0:
        raise ConfigError(f"{path} is empty (0 bytes): an export that was cut short, or a placeholder; {_FIX}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf's DecodeError and onnx's own, untyped
        raise ConfigError(f"{path} is not an ONNX model ({first_line(exc)}): it is truncated or another format; "
                          f"{_FIX}") from None
    if not model.graph.node or not model.graph.input:
        raise ConfigError(f"{path} holds no ONNX graph (no nodes or no inputs): it is damaged or another "
                          f"format; {_FIX}")
    check_domains(model, str(path), f"recalib's runtimes run standard ONNX only: {_FIX}, which uses none")
    return model


def write_graph(model: ir.Model, target: Path) -> bool:
    """Write ``model`` to ``target``: one file, or the file and ``<name>.data`` beside it when its weights
    exceed protobuf's limit (:data:`EXTERNAL_DATA_BYTES`); True for the latter."""
    weights = sum(value.const_value.nbytes for value in model.graph.initializers.values()
                  if value.const_value is not None)
    external = weights > EXTERNAL_DATA_BYTES
    try:
        if external:
            ir.save(model, target, external_data=f"{target.name}.data")
        else:
            ir.save(model, target)
    except OSError as exc:
        raise ExportError(f"cannot write {target.name}: {exc}") from exc
    return external
