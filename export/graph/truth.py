"""The truth a rewritten graph is judged against when there is no PyTorch model: its input graph.

The one parity definition (:mod:`recalib.export.parity`) judges a runtime against a float64 truth,
with the reference's own float32 error as the yardstick. For an ONNX-to-ONNX pass:

* **the truth** is the input graph run in float64 by the ONNX reference implementation
  (:mod:`onnx.reference`, numpy): the specification's own semantics for every standard op, with
  the weights as the file stores them, cast up exactly (:func:`as_float64`); its max pools run as
  one windowed maximum (:mod:`recalib.export.graph.reference_ops`), the same values without its
  per-pixel Python loops. onnxruntime cannot be
  the float64 runtime: its CPU provider has no float64 ``Conv``, ``AveragePool`` or
  ``GlobalAveragePool``;
* **the yardstick** is the input graph on onnxruntime in float32, its distance from that truth:
  what float32 rounding in the runtime's own kernels costs. The rewritten graph passes when it is
  within ``tolerance`` of the truth, or no further than twice the input graph is.

A graph the reference implementation cannot run (an op it lacks, say) has no float64 truth: it
is judged against its own float32 run on onnxruntime with ``tolerance`` as the whole bound, and
the check says so (``reference_dtype`` float32), as for a PyTorch model without a float64 run.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from recalib.errors import ConfigError, first_line
from recalib.export.agreement import run_batched
from recalib.export.graph.reference_ops import FAST_OPS
from recalib.export.inputs import Run, declared_inputs
from recalib.export.parity import Reference, reference_from
from recalib.export.verify import ort_session, run_onnx

__all__ = ["GraphTruth", "as_float64", "FLOAT64_CHUNK"]

FLOAT64_CHUNK = 8  # inputs per reference run: numpy's im2col of a 224-pixel float64 batch is large

_FLOAT, _DOUBLE = onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE


def _float64_tensor(tensor: onnx.TensorProto) -> None:
    if tensor.data_type == _FLOAT:
        tensor.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float64), tensor.name))


def _cast_graph(graph: onnx.GraphProto) -> None:
    for tensor in graph.initializer:
        _float64_tensor(tensor)
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR:
                _float64_tensor(attr.t)
            elif attr.type == onnx.AttributeProto.GRAPH:
                _cast_graph(attr.g)
            elif node.op_type == "Cast" and attr.name == "to" and attr.i == _FLOAT:
                attr.i = _DOUBLE
    for value in (*graph.input, *graph.output, *graph.value_info):
        if value.type.tensor_type.elem_type == _FLOAT:
            value.type.tensor_type.elem_type = _DOUBLE


def as_float64(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` computing in float64: every float32 weight, constant, cast and declared
    type made float64 (the values exactly as stored; only what is computed from them gains precision)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    _cast_graph(copy.graph)
    return copy


class GraphTruth:
    """The truth of the one-input graph at ``path`` (see the module docstring); ``fixed_batch`` is its
    batch when the graph declares one (inputs are then run in chunks of exactly that many)."""

    def __init__(self, path: Path, fixed_batch: int | None = None) -> None:
        self.path, self.fixed_batch = Path(path), fixed_batch
        self._float32: Run | None = None
        self._float64: Run | None = None
        self._runs_float64 = True

    def reference(self, x: np.ndarray, chunk: int | None = None) -> Reference:
        """The truth on ``x`` and how far the input graph's float32 run is from it (``chunk`` is
        ignored: the graph is run in chunks of its own batch, or of :data:`FLOAT64_CHUNK`)."""
        inputs = np.ascontiguousarray(x, dtype=np.float32)
        float32 = run_batched(self._run_float32(), inputs, self.fixed_batch)
        return reference_from(inputs, float32, self._exact(inputs), judged_against=self.path.name)

    def _run_float32(self) -> Run:
        if self._float32 is None:
            try:
                session = ort_session(self.path)
            except Exception as exc:  # onnxruntime raises its own untyped errors
                raise ConfigError(f"onnxruntime cannot load {self.path} ({first_line(exc)}), so it cannot be run "
                                  f"to verify a rewrite against; check that the file runs") from None
            self._float32 = lambda batch: run_onnx(session, batch)
        return self._float32

    def _exact(self, inputs: np.ndarray) -> list[np.ndarray] | None:
        """The float64 outputs on ``inputs`` (None when the reference implementation cannot run the graph)."""
        if not self._runs_float64:
            return None
        try:
            if self._float64 is None:
                from onnx.reference import ReferenceEvaluator

                model = onnx.load(str(self.path))
                evaluator: Any = ReferenceEvaluator(as_float64(model), new_ops=FAST_OPS)
                name = declared_inputs(model)[0][0]
                self._float64 = lambda batch: [np.asarray(o, np.float64) for o in
                                               evaluator.run(None, {name: batch.astype(np.float64)})]
            return run_batched(self._float64, inputs, self.fixed_batch, FLOAT64_CHUNK)
        except Exception:  # any op the reference implementation lacks or rejects
            self._runs_float64, self._float64 = False, None
            return None
