"""Evidence that an exported graph is what was asked for and computes what PyTorch computes.

* :func:`check_structure`: ``onnx.checker`` full check (with strict shape inference), the
  requested opset, the default ONNX domain only, and graph input dims exactly as declared
  (a dynamic batch that torch.export specialised to the example size is caught here).
* :func:`parity`: onnxruntime (CPU) against the PyTorch model on fresh random inputs.
* :func:`validate_inputs` / :func:`run_onnx`: what a runner calls before running a graph, so
  a 224-pixel model fed 192 pixels fails with a clear :class:`ShapeError`, not a wrong answer.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np
import onnx
import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from recalib.errors import ExportError, ShapeError, VerificationError

__all__ = ["Dims", "ParityResult", "check_structure", "declared_inputs", "validate_inputs",
           "run_onnx", "parity", "ort_session"]

Dims = list[Union[int, str]]  # a static size, or the name of a symbolic dim
DEFAULT_DOMAINS = ("", "ai.onnx")


@dataclass
class ParityResult:
    """Error of onnxruntime versus PyTorch on one input shape (relative to max |PyTorch output|)."""

    shape: tuple[int, ...]
    max_abs: float
    max_rel: float


def _dims(value_info: onnx.ValueInfoProto) -> Dims:
    return [d.dim_param or d.dim_value if d.HasField("dim_value") or d.dim_param else "?"
            for d in value_info.type.tensor_type.shape.dim]


def check_structure(path: Path, opset: int, expected_input: Dims) -> onnx.ModelProto:
    """Full checker, opset, domains and declared input dims of the file at ``path``."""
    try:
        onnx.checker.check_model(str(path), full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise VerificationError(f"the exported graph fails onnx.checker: {exc}") from exc
    model = onnx.load(str(path), load_external_data=False)
    produced = {o.domain: o.version for o in model.opset_import}
    version = produced.get("", produced.get("ai.onnx"))
    if version != opset:
        raise ExportError(f"opset {opset} was requested but the exporter produced opset {version}; "
                          f"request opset {version}, or a version this torch can emit")
    foreign = sorted({f"{n.domain}::{n.op_type}" for n in model.graph.node if n.domain not in DEFAULT_DOMAINS})
    if foreign or model.functions or set(produced) - set(DEFAULT_DOMAINS):
        raise ExportError(f"the exported graph uses ops outside the default ONNX domain "
                          f"({', '.join(foreign) or 'local functions'}); TensorRT and other runtimes "
                          f"cannot run them")
    _check_declared(model, expected_input)
    return model


def _check_declared(model: onnx.ModelProto, expected: Dims) -> None:
    """Input dims must be exactly ``expected`` (str = any symbolic name, int = that size)."""
    inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    got = _dims(inputs[0]) if len(inputs) == 1 else None
    ok = got is not None and len(got) == len(expected) and all(
        isinstance(g, str) and g != "?" if isinstance(e, str) else g == e for g, e in zip(got, expected))
    if not ok:
        raise ExportError(f"the exported graph's input is {got}, but {expected} was declared "
                          f"(strings are dynamic dims): torch.export specialised or changed a "
                          f"dimension; check the model for shape-dependent code")


def declared_inputs(source: Any) -> list[tuple[str, Dims]]:
    """``[(name, dims)]`` of a graph's inputs, from a path, a ModelProto or an ORT session."""
    if hasattr(source, "get_inputs"):
        return [(i.name, [d if isinstance(d, int) else str(d) for d in i.shape])
                for i in source.get_inputs()]
    model = source if isinstance(source, onnx.ModelProto) else onnx.load(str(source), load_external_data=False)
    init = {t.name for t in model.graph.initializer}
    return [(i.name, _dims(i)) for i in model.graph.input if i.name not in init]


def _fmt(dims: Sequence[Any]) -> str:
    return "x".join(str(d) for d in dims)


def validate_inputs(declared: Sequence[tuple[str, Dims]], inputs: Mapping[str, Any]) -> None:
    """Raise :class:`ShapeError` unless every input matches its declared rank and static dims."""
    for name, dims in declared:
        if name not in inputs:
            raise ShapeError(f"the model needs input {name!r} ({_fmt(dims)}), got {sorted(inputs)}")
        shape = tuple(np.shape(inputs[name]))
        if len(shape) != len(dims):
            raise ShapeError(f"input {name!r}: model exported for rank {len(dims)} ({_fmt(dims)}), "
                             f"got shape {_fmt(shape)}")
        bad = [i for i, d in enumerate(dims) if isinstance(d, int) and d != shape[i]]
        if bad and bad != [0]:
            raise ShapeError(f"input {name!r}: model exported for {_fmt(dims[1:])}, got {_fmt(shape[1:])}; "
                             f"re-export at this size (recalib export --input-size H W) or resize the input")
        if bad:
            raise ShapeError(f"input {name!r}: model exported for batch {dims[0]}, got batch {shape[0]}; "
                             f"re-export with a dynamic batch (recalib export --batch dynamic)")


def ort_session(path: Path | str, threads: int | None = None) -> Any:
    """An onnxruntime CPU session with a fixed thread count (``torch.get_num_threads()``)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the runtime's own warnings are not findings of ours
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run_onnx(session_or_path: Any, x: np.ndarray | torch.Tensor) -> list[np.ndarray]:
    """Run a single-input graph on ``x`` after checking ``x`` against the declared input dims."""
    session = session_or_path if hasattr(session_or_path, "run") else ort_session(session_or_path)
    array = x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)
    declared = declared_inputs(session)
    feed = {declared[0][0]: array.astype(np.float32, copy=False)}
    validate_inputs(declared, feed)
    return session.run(None, feed)


def parity(path: Path, reference: nn.Module, shapes: Sequence[tuple[int, ...]], tolerance: float,
           seed: int) -> list[ParityResult]:
    """Compare onnxruntime with ``reference`` on fresh random inputs of each shape."""
    try:
        session = ort_session(path)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise VerificationError(f"onnxruntime cannot load the exported graph: {exc}") from exc
    generator = torch.Generator().manual_seed(seed)
    results = []
    for shape in shapes:
        x = torch.randn(*shape, generator=generator)
        with torch.no_grad():
            expected, _ = tree_flatten(reference(x))
        results.append(_compare(shape, [e.numpy() for e in expected], run_onnx(session, x)))
        if not results[-1].max_rel <= tolerance:  # NaN fails too
            raise VerificationError(
                f"onnxruntime disagrees with PyTorch at input {_fmt(shape)}: max relative error "
                f"{results[-1].max_rel:.2e} > tolerance {tolerance:.0e} (max abs {results[-1].max_abs:.2e}); "
                f"the output was not written.{_conditioning_hint(reference, x, tolerance)}")
    return results


def _conditioning_hint(reference: nn.Module, x: torch.Tensor, tolerance: float) -> str:
    """Why parity may be unreachable: PyTorch's own float32 result vs float64 on the same input."""
    try:
        exact = copy.deepcopy(reference).double()
        with torch.no_grad():
            got, _ = tree_flatten(reference(x))
            want, _ = tree_flatten(exact(x.double()))
    except Exception:  # a model that cannot run in float64 gets no hint, only the error
        return ""
    noise = _compare(tuple(x.shape), [w.numpy() for w in want], [g.double().numpy() for g in got]).max_rel
    if noise <= tolerance / 10:
        return f" PyTorch's own float32 rounding error here is only {noise:.1e}: this is a real mismatch."
    return (f" PyTorch itself is off by {noise:.1e} between float32 and float64 on this input: the model "
            f"amplifies rounding (typical of random weights in deep nets), so no float32 runtime can "
            f"match it to {tolerance:.0e}; export trained weights, or accept a tolerance above {noise:.0e}.")


def _compare(shape: tuple[int, ...], expected: list[np.ndarray], got: list[np.ndarray]) -> ParityResult:
    if len(expected) != len(got) or any(e.shape != g.shape for e, g in zip(expected, got)):
        raise VerificationError(f"onnxruntime output shapes {[g.shape for g in got]} differ from "
                                f"PyTorch's {[e.shape for e in expected]} at input {_fmt(shape)}")
    # NaN compares False against any tolerance: count it as an infinite error instead.
    max_abs = max(float(np.nan_to_num(np.abs(e - g), nan=np.inf).max()) for e, g in zip(expected, got))
    scale = max(float(np.abs(e).max()) for e in expected)
    return ParityResult(tuple(shape), max_abs, max_abs / max(scale, 1e-12))
