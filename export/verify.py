"""Evidence that an exported graph is what was asked for and computes what PyTorch computes.

* :func:`check_structure`: ``onnx.checker`` full check (with strict shape inference), the
  requested opset, the default ONNX domain only, and graph input dims exactly as declared
  (a dynamic batch that torch.export specialised to the example size is caught here).
* :func:`parity`: each runtime the export is verified on (onnxruntime CPU unless told others,
  as :data:`Opener` functions) against the PyTorch model (or, for ``recalib optimize``, the input
  graph: :mod:`recalib.export.graph.truth`) on fresh random inputs, judged by the
  one parity definition (:mod:`recalib.export.parity`); :mod:`recalib.export.agreement` judges the same way
  on labelled data.
* :func:`run_onnx`: run a graph after :func:`recalib.export.inputs.validate_inputs`, so a 224-pixel
  model fed 192 pixels fails with a clear :class:`ShapeError`, not a wrong answer.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from recalib.export.inputs import Dims, Opener, Run, declared_inputs, dims_of, validate_inputs
from recalib.export.onnx_file import check_domains
from recalib.export.parity import ParityCheck, TruthSource, judge, require
from recalib.errors import ExportError, VerificationError

__all__ = ["check_structure", "run_onnx", "parity", "ort_session", "open_runtimes"]



def check_structure(path: Path, opset: int, expected_input: Dims) -> onnx.ModelProto:
    """Full checker, opset, domains and declared input dims of the file at ``path``, read once (the
    checker reads the file itself only when weights lie outside it, to find them)."""
    model = onnx.load(str(path), load_external_data=False)
    external = any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    try:
        onnx.checker.check_model(str(path) if external else model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise VerificationError(f"the exported graph fails onnx.checker: {exc}") from exc
    produced = {o.domain: o.version for o in model.opset_import}
    version = produced.get("", produced.get("ai.onnx"))
    if version != opset:
        raise ExportError(f"opset {opset} was requested but the exporter produced opset {version}; "
                          f"request opset {version}, or a version this torch can emit")
    check_domains(model, "the exported graph", "TensorRT and other runtimes cannot run them", ExportError)
    _check_declared(model, expected_input)
    return model


def _check_declared(model: onnx.ModelProto, expected: Dims) -> None:
    """Input dims must be exactly ``expected`` (str = any symbolic name, int = that size)."""
    inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    got = dims_of(inputs[0]) if len(inputs) == 1 else None
    ok = got is not None and len(got) == len(expected) and all(
        isinstance(g, str) and g != "?" if isinstance(e, str) else g == e for g, e in zip(got, expected))
    if not ok:
        raise ExportError(f"the exported graph's input is {got}, but {expected} was declared "
                          f"(strings are dynamic dims): torch.export specialised or changed a "
                          f"dimension; check the model for shape-dependent code")


def ort_session(path: Path | str | bytes, threads: int | None = None) -> Any:
    """An onnxruntime CPU session with a fixed thread count (``torch.get_num_threads()``) on a file, or on
    a serialised graph (``bytes``) that was never written."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the runtime's own warnings are not findings of ours
    source = path if isinstance(path, bytes) else str(path)
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_onnx(session_or_path: Any, x: np.ndarray | torch.Tensor) -> list[np.ndarray]:
    """Run a single-input graph on ``x`` after checking ``x`` against the declared input dims."""
    session = session_or_path if hasattr(session_or_path, "run") else ort_session(session_or_path)
    array = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
    declared = declared_inputs(session)
    feed = {declared[0][0]: array.astype(np.float32, copy=False)}
    validate_inputs(declared, feed)
    return session.run(None, feed)


def _open_onnxruntime(path: Path) -> Run:
    try:
        session = ort_session(path)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise VerificationError(f"onnxruntime cannot load the exported graph: {exc}") from exc
    return lambda x: run_onnx(session, x)


def open_runtimes(path: Path, runtimes: Mapping[str, Opener] | None = None) -> dict[str, Run]:
    """``path`` loaded on each named runtime; by default onnxruntime CPU in this process."""
    return {name: opener(path) for name, opener in (runtimes or {"onnxruntime": _open_onnxruntime}).items()}


def parity(path: Path, truth: TruthSource, shapes: Sequence[tuple[int, ...]], tolerance: float,
           seed: int, runtimes: Mapping[str, Opener] | None = None) -> list[ParityCheck]:
    """Each runtime (:func:`open_runtimes`) on fresh random inputs of each shape, judged by :mod:`recalib.export.parity`
    against ``truth`` (the PyTorch model's, or the input graph's of an ONNX-to-ONNX pass)."""
    runs = open_runtimes(path, runtimes)
    generator = torch.Generator().manual_seed(seed)
    checks = []
    for shape in shapes:
        ref = truth.reference(torch.randn(*shape, generator=generator).numpy())
        for name, run in runs.items():
            checks.append(require(judge(ref, run(ref.input), runtime=name, label=path.name, tolerance=tolerance),
                                  "the output was not written"))
    return checks
