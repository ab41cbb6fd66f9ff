"""The one parity definition: a runtime against PyTorch in float64, with float32 PyTorch as the yardstick.

For an input ``x``, the truth is the PyTorch model run in float64 (weights and input cast up).
A runtime's *error* is ``max |runtime(x) - truth| / max |truth|``. PyTorch's own float32 run
has such an error too (``pytorch_error``): rounding that a deep net with random weights can
amplify to 1e-3 and beyond, which no float32 runtime can avoid. So a runtime passes when

    error <= max(tolerance, PYTORCH_MARGIN * pytorch_error)

i.e. it is within ``tolerance`` of the truth, or no further from it than float32 PyTorch is
(up to the margin: another float32 summation order lands at a similar distance, not the same
one). A runtime computing in a reduced precision (OpenVINO's bf16, TensorRT's fp16) is held to
PyTorch run in that precision instead (:func:`at_precision`): bf16 keeps 8 bits of mantissa,
and a random ResNet-50 ends 5-20% of its largest output away from float64 in PyTorch and
OpenVINO alike. A model that cannot run in float64 is judged against float32 PyTorch, and the
record says so (``reference_dtype``). :class:`Truth` needs torch; :func:`judge` only numpy, so
worker processes of other runtimes judge without running torch.

The truth need not be a PyTorch model: anything with :class:`TruthSource`'s ``reference`` can
judge, and each :class:`Reference` names what it holds (``judged_against``). An ONNX-to-ONNX
pass is judged against its input graph (:class:`recalib.export.graph.truth.GraphTruth`: the input
graph in float64 as the truth, the input graph's own float32 run as the yardstick).
"""
from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from recalib.errors import VerificationError, first_line
from recalib.export.options import DEFAULT_TOLERANCE

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["PYTORCH_MARGIN", "PRECISIONS", "ALL_PRECISIONS", "INT8", "INT8_TOLERANCE", "INT8_MIN_AGREEMENT",
           "INT8_MAX_ACCURACY_DROP", "AtPrecision", "Remembered", "Reference", "ParityCheck", "Truth", "TruthSource", "at_precision",
           "judge", "require", "relative_error", "reference_from"]

PYTORCH_MARGIN = 2.0
PRECISIONS = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}  # float precision -> torch dtype
INT8 = "int8"
# The bounds of int8, the one precision PyTorch has no twin for (its quantised kernels are not the
# runtimes' QDQ kernels), so they are stated here instead of measured:
# - logits: each quantised tensor is rounded to 1/255 of its calibrated range, and a deep net adds up
#   those roundings; a correct recipe lands at 2-10% of the largest logit (trained CIFAR ResNet-20 +
#   SE on the digits: 6.7%), while a wrong graph (a missing scale, a swapped range) is off by the
#   order of the logits themselves. A quarter of the largest logit separates the two.
INT8_TOLERANCE = 0.25
# - decisions, on labelled data (the targets, what a deployment engineer accepts): top-1
#   agreement with float32 PyTorch of at least 99%, accuracy at most one point below float32's.
INT8_MIN_AGREEMENT = 0.99
INT8_MAX_ACCURACY_DROP = 0.01
ALL_PRECISIONS = (*PRECISIONS, INT8)  # what --precision takes


@dataclass(frozen=True)
class Reference:
    """What a runtime's outputs on ``input`` are judged against; ``float32`` is the reference's own float32
    run, and ``pytorch_error`` its own error when run in ``precision`` (:data:`PRECISIONS`), the yardstick.
    ``judged_against`` names the reference: PyTorch, or the graph an ONNX-to-ONNX pass started from."""

    input: np.ndarray
    truth: list[np.ndarray]
    pytorch_error: float | None
    reference_dtype: str
    float32: list[np.ndarray] = field(default_factory=list)
    precision: str = "fp32"
    judged_against: str = "PyTorch"


@dataclass(frozen=True)
class ParityCheck:
    """One runtime's outputs on one input, judged (errors relative to the largest true output)."""

    runtime: str
    label: str
    shape: tuple[int, ...]
    error: float
    max_abs: float
    pytorch_error: float | None
    tolerance: float
    bound: float
    reference_dtype: str
    precision: str = "fp32"
    judged_against: str = "PyTorch"

    @property
    def passed(self) -> bool:
        return self.error <= self.bound  # NaN fails

    def describe(self) -> str:
        shape, against = "x".join(map(str, self.shape)), self.judged_against
        head = f"{self.label} on {self.runtime}: {self.error:.1e} from {against} {self.reference_dtype} at {shape}"
        if self.precision == INT8:
            return f"{head} (int8: allowed {self.bound:.1e} = parity.INT8_TOLERANCE of the largest output)"
        yardstick = (f"no float64 run (judged against float32 {against})" if self.pytorch_error is None
                     else f"{against} {PRECISIONS[self.precision]} {self.pytorch_error:.1e}")
        return (f"{head} ({yardstick}; allowed {self.bound:.1e} = max(tolerance {self.tolerance:.0e}, "
                f"{PYTORCH_MARGIN:g} x {against}'s))")


class TruthSource(Protocol):
    """What parity checks take their :class:`Reference` from: :class:`Truth` (a PyTorch model), or a graph."""

    def reference(self, x: np.ndarray, chunk: int | None = None) -> Reference:
        """The truth on ``x`` (float32 inputs), computed ``chunk`` inputs at a time when given."""
        ...


def _flat(output: Any) -> list[Any]:
    from torch.utils._pytree import tree_flatten

    return list(tree_flatten(output)[0])


def relative_error(truth: Sequence[np.ndarray], got: Sequence[np.ndarray]) -> tuple[float, float]:
    """``(max abs error / max |truth|, max abs error)``; NaN counts as an infinite error."""
    if len(truth) != len(got) or any(t.shape != g.shape for t, g in zip(truth, got)):
        raise VerificationError(f"output shapes {[tuple(g.shape) for g in got]} differ from PyTorch's "
                                f"{[tuple(t.shape) for t in truth]}: the exported model is not the PyTorch model")
    diffs = [np.nan_to_num(np.abs(np.asarray(g, np.float64) - t), nan=np.inf) for t, g in zip(truth, got)]
    max_abs = max((float(d.max()) for d in diffs if d.size), default=0.0)
    scale = max((float(np.abs(t).max()) for t in truth if t.size), default=0.0)
    return max_abs / max(scale, 1e-12), max_abs


def _outputs(model: nn.Module, parts: Sequence[Any]) -> list[np.ndarray]:
    """``model``'s outputs on each part of the input, joined along the batch, as float64 numpy."""
    runs = [[o.detach().double().cpu().numpy() for o in _flat(model(part))] for part in parts]
    return [np.concatenate(outputs) for outputs in zip(*runs)]


class Truth:
    """``model``'s float64 truth: its float64 twin is made on first use and kept, so every parity
    check of one model (each batch, each export, each runtime) shares one copy.

    The twin is a copy taken then: change ``model``'s weights afterwards and the truth is stale,
    so make one :class:`Truth` per model as it will be exported. A model that cannot run in
    float64 (a block with float32-only arithmetic) is judged against float32 PyTorch instead.
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self._twin: nn.Module | None = None
        self._runs_float64 = True

    def reference(self, x: np.ndarray, chunk: int | None = None) -> Reference:
        """The truth on ``x`` (float32) and how far float32 PyTorch is from it.

        ``chunk`` runs the model on that many inputs at a time (a data set would not fit at once).
        The model runs in eval mode; its own mode is restored afterwards.
        """
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        parts = tensor.split(chunk) if chunk else (tensor,)
        was_training = self.model.training
        try:
            with torch.no_grad():
                float32 = _outputs(self.model.eval(), parts)
                exact = self._float64(parts)
        finally:
            self.model.train(was_training)
        return reference_from(np.asarray(tensor.numpy()), float32, exact)

    def _float64(self, parts: Sequence[Any]) -> list[np.ndarray] | None:
        """The twin's outputs on ``parts`` (None when the model cannot run in float64)."""
        from recalib.export.float64 import fast_float64

        if not self._runs_float64:
            return None
        try:
            if self._twin is None:
                self._twin = copy.deepcopy(self.model).eval().double()
            with fast_float64():
                return _outputs(self._twin, [part.double() for part in parts])
        except (RuntimeError, TypeError):  # a block with float32-only arithmetic: no float64 truth
            self._runs_float64, self._twin = False, None
            return None


def reference_from(x: np.ndarray, float32: list[np.ndarray], exact: list[np.ndarray] | None,
                   judged_against: str = "PyTorch") -> Reference:
    """The :class:`Reference` on ``x`` of a model whose float32 outputs are ``float32`` and whose float64
    outputs are ``exact`` (None: it has no float64 run, so its float32 run is the truth)."""
    truth = exact if exact is not None else float32
    if not all(np.isfinite(t).all() for t in truth):
        raise VerificationError(f"the {judged_against} model's own output holds NaN or infinite values on the check "
                                f"input (it overflows, or its weights are not finite): there is nothing to "
                                f"verify against; check the model and its weights")
    if exact is None:
        return Reference(x, float32, None, "float32", float32, judged_against=judged_against)
    return Reference(x, exact, relative_error(exact, float32)[0], "float64", float32, judged_against=judged_against)


def at_precision(ref: Reference, model: nn.Module, precision: str) -> Reference:
    """``ref`` with its yardstick measured in ``precision``: ``model``'s own error from the truth
    when PyTorch runs it (weights and input) in that dtype."""
    import torch

    from recalib.errors import ConfigError

    if precision not in ALL_PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(ALL_PRECISIONS)}")
    if precision == INT8:  # no PyTorch twin: judged by the stated bound (INT8_TOLERANCE)
        return replace(ref, precision=INT8)
    if precision == ref.precision or ref.pytorch_error is None:
        return ref
    dtype = getattr(torch, PRECISIONS[precision])
    try:
        with torch.no_grad():
            got = [o.detach().double().cpu().numpy()
                   for o in _flat(copy.deepcopy(model).eval().to(dtype)(torch.from_numpy(ref.input).to(dtype)))]
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(f"PyTorch cannot run the model in {precision} ({first_line(exc)}), so a "
                          f"{precision} runtime has nothing to be judged by; time it in fp32") from None
    return replace(ref, pytorch_error=relative_error(ref.truth, got)[0], precision=precision)


class Remembered:
    """``truth`` whose references are kept by input value, so an int8 export's float32 and int8 graphs are
    judged on one float64 run of the same inputs."""

    def __init__(self, truth: TruthSource) -> None:
        self.truth = truth
        self._kept: dict[tuple[bytes, int | None], Reference] = {}

    def reference(self, x: np.ndarray, chunk: int | None = None) -> Reference:
        import hashlib

        array = np.ascontiguousarray(x, dtype=np.float32)
        key = (hashlib.sha256(array.tobytes() + str(array.shape).encode()).digest(), chunk)
        if key not in self._kept:
            self._kept[key] = self.truth.reference(array, chunk)
        return self._kept[key]


class AtPrecision:

    """A :class:`TruthSource` whose references are ``truth``'s judged at ``precision``
    (:func:`at_precision`, with ``model`` as PyTorch's twin in that precision)."""

    def __init__(self, truth: TruthSource, model: nn.Module, precision: str) -> None:
        self.truth, self.model, self.precision = truth, model, precision

    def reference(self, x: np.ndarray, chunk: int | None = None) -> Reference:
        return at_precision(self.truth.reference(x, chunk), self.model, self.precision)


def judge(ref: Reference, got: Sequence[np.ndarray], *, runtime: str, label: str,
          tolerance: float = DEFAULT_TOLERANCE) -> ParityCheck:
    """The :class:`ParityCheck` of a runtime's outputs ``got`` on ``ref.input``."""
    error, max_abs = relative_error(ref.truth, got)
    yardstick = ref.pytorch_error
    # An infinite yardstick (float32 PyTorch itself overflowed) would let anything pass.
    allowed = max(tolerance, PYTORCH_MARGIN * yardstick) if yardstick is not None and np.isfinite(yardstick) else (
        tolerance)
    if ref.precision == INT8:
        allowed = max(tolerance, INT8_TOLERANCE)
    return ParityCheck(runtime, label, tuple(ref.input.shape), error, max_abs, ref.pytorch_error,
                       tolerance, allowed, ref.reference_dtype, ref.precision, ref.judged_against)


def require(check: ParityCheck, consequence: str) -> ParityCheck:
    """``check`` if it passed, else a :class:`VerificationError` that says what happens next."""
    if check.passed:
        return check
    closer = "" if check.pytorch_error is None or check.precision == INT8 else (
        f" The runtime is further from the float64 truth than {PRECISIONS[check.precision]} {check.judged_against} is "
        f"({check.error:.1e} vs {check.pytorch_error:.1e}): a real mismatch, not rounding.")
    raise VerificationError(f"{check.describe()}: outside the bound; {consequence}.{closer} "
                            f"Check the export, or pass a larger --tolerance if the runtime is known to round more.")
