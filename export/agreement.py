"""Prediction agreement: does the deployed model make the trained model's decisions on real data?

Verifying on labelled data (:mod:`recalib.export.labelled`) instead of random inputs, each runtime's
logits on the whole data set are judged twice:

* by the one parity definition (:mod:`recalib.export.parity`): the error against the float64 PyTorch
  model, relative to its largest logit, with float32 PyTorch's own error as the yardstick.
  This is what passes or fails the export;
* by the decisions: top-1 agreement with float32 PyTorch (the model as it was trained and
  evaluated), accuracy under each, and every disagreement with both margins. A runtime whose
  top-1 class differs from PyTorch's must differ from it by at least half PyTorch's margin
  between the two classes, so when parity holds, a disagreement can only be a near-tie
  within rounding; ``closest_margin`` (PyTorch's smallest top-1 margin on the data) says how
  near the nearest decision came.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from recalib.export.labelled import LabelledData
from recalib.export.parity import (INT8, INT8_MAX_ACCURACY_DROP, INT8_MIN_AGREEMENT, ParityCheck, TruthSource, judge,
                                   require)
from recalib.export.inputs import Opener, Run
from recalib.export.verify import open_runtimes
from recalib.errors import DataError, VerificationError

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Disagreement", "AgreementCheck", "verify_on_data", "compare_predictions", "run_batched",
           "num_classes", "require_decisions", "CHUNK"]

CHUNK = 64  # inputs per run: a data set's float64 activations would not fit in memory at once


@dataclass(frozen=True)
class Disagreement:
    """One input on which a runtime's top-1 class is not PyTorch's.

    ``pytorch_margin``: PyTorch's logit of its class minus its logit of the runtime's class;
    ``runtime_margin``: the runtime's logit of its class minus its logit of PyTorch's.
    """

    index: int
    label: int
    pytorch_class: int
    runtime_class: int
    pytorch_margin: float
    runtime_margin: float


@dataclass(frozen=True)
class AgreementCheck:
    """One runtime's decisions on a labelled data set, beside PyTorch's (float32)."""

    runtime: str
    data: str
    samples: int
    agreed: int
    pytorch_correct: int
    runtime_correct: int
    max_logit_error: float  # the largest absolute logit difference from the float64 PyTorch model
    closest_margin: float  # PyTorch's smallest gap between its top two logits on the data
    disagreements: tuple[Disagreement, ...]
    precision: str = "fp32"  # what the runtime computed in (PyTorch: float32)

    @property
    def agreement(self) -> float:
        return self.agreed / self.samples

    @property
    def accuracy_drop(self) -> float:
        """PyTorch's accuracy minus the runtime's (a fraction; negative when the runtime is more accurate)."""
        return (self.pytorch_correct - self.runtime_correct) / self.samples

    def describe(self) -> str:
        at = "" if self.precision == "fp32" else f" ({self.precision})"
        lines = [f"{self.runtime}{at} on {self.data}: top-1 agreement {self.agreed}/{self.samples} "
                 f"({100 * self.agreement:.2f}%), accuracy PyTorch {100 * self.pytorch_correct / self.samples:.2f}% "
                 f"vs {100 * self.runtime_correct / self.samples:.2f}%, largest logit error "
                 f"{self.max_logit_error:.1e}, closest PyTorch decision margin {self.closest_margin:.1e}"]
        lines += [f"  sample {d.index} (label {d.label}): PyTorch {d.pytorch_class} by {d.pytorch_margin:.1e}, "
                  f"{self.runtime} {d.runtime_class} by {d.runtime_margin:.1e}" for d in self.disagreements]
        return "\n".join(lines)


def num_classes(model: nn.Module, data: LabelledData) -> int:
    """The classes ``model`` scores, from one sample: its output must be one ``(N, classes)`` tensor."""
    import torch

    with torch.no_grad():
        out = model.eval()(torch.from_numpy(data.inputs[:1]))
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise DataError(f"verifying on {data.name} needs a classifier with one (N, classes) output, but the "
                        f"model returns {shape}; verify it on random inputs instead")
    return int(out.shape[1])


def run_batched(run: Run, inputs: np.ndarray, batch: int | None, chunk: int = CHUNK) -> list[np.ndarray]:
    """``run`` over ``inputs`` in chunks of ``chunk`` (of exactly ``batch`` for a fixed-batch export, the last padded)."""
    size = batch or chunk
    parts = []
    for start in range(0, len(inputs), size):
        part = inputs[start:start + size]
        fill = size - len(part) if batch else 0
        padded = np.concatenate([part, np.repeat(part[-1:], fill, axis=0)]) if fill else part
        parts.append([np.asarray(o)[:len(part)] for o in run(padded)])
    return [np.concatenate(outputs) for outputs in zip(*parts)]


def compare_predictions(pytorch: np.ndarray, got: np.ndarray, labels: np.ndarray, *, runtime: str, data: str,
                        max_logit_error: float, precision: str = "fp32") -> AgreementCheck:
    """Top-1 decisions of ``got`` (N, classes) against PyTorch's logits ``pytorch`` and the ``labels``."""
    rows = np.arange(len(labels))
    mine, theirs = pytorch.argmax(1), got.argmax(1)
    top_two = np.sort(pytorch, axis=1)[:, -2:] if pytorch.shape[1] > 1 else np.zeros((len(labels), 2))
    differ = np.flatnonzero(mine != theirs)
    disagreements = tuple(Disagreement(
        int(i), int(labels[i]), int(mine[i]), int(theirs[i]), float(pytorch[i, mine[i]] - pytorch[i, theirs[i]]),
        float(got[i, theirs[i]] - got[i, mine[i]])) for i in differ)
    return AgreementCheck(runtime, data, len(labels), int((mine == theirs).sum()), int((mine == labels).sum()),
                          int((theirs == labels).sum()), max_logit_error,
                          float((top_two[:, 1] - top_two[:, 0]).min()), disagreements, precision)


def require_decisions(agreement: AgreementCheck, consequence: str) -> AgreementCheck:
    """``agreement`` if its decisions are within int8's bounds (:data:`~recalib.export.parity.INT8_MIN_AGREEMENT`,
    :data:`~recalib.export.parity.INT8_MAX_ACCURACY_DROP`; float precisions are judged by parity alone), else a
    :class:`VerificationError` naming the numbers."""
    if agreement.precision != INT8 or (agreement.agreement >= INT8_MIN_AGREEMENT
                                       and agreement.accuracy_drop <= INT8_MAX_ACCURACY_DROP):
        return agreement
    raise VerificationError(
        f"{agreement.runtime} int8 on {agreement.data}: top-1 agreement {100 * agreement.agreement:.2f}% (at least "
        f"{100 * INT8_MIN_AGREEMENT:g}% needed), accuracy {100 * agreement.accuracy_drop:+.2f} points below float32 "
        f"(at most {100 * INT8_MAX_ACCURACY_DROP:g} allowed); {consequence}. Read the ranges another way "
        f"(--calibration-method percentile), keep the gates in float (--gates-in-float), or calibrate "
        f"on more representative images")


def verify_on_data(path: Path, truth: TruthSource, data: LabelledData, tolerance: float,
                   runtimes: Mapping[str, Opener] | None = None,
                   batch: int | None = None) -> tuple[list[ParityCheck], list[AgreementCheck]]:
    """Each runtime's logits on ``data``: the parity check against ``truth`` (the PyTorch model's; raises
    when outside the bound) and the agreement."""
    ref = truth.reference(data.inputs, chunk=CHUNK)
    checks, agreements = [], []
    for name, run in open_runtimes(path, runtimes).items():
        got = run_batched(run, data.inputs, batch)
        check = judge(ref, got, runtime=name, label=path.name, tolerance=tolerance)
        agreement = compare_predictions(ref.float32[0], got[0], data.labels, runtime=name, data=data.name,
                                        max_logit_error=check.max_abs, precision=ref.precision)
        checks.append(require(check, f"the output was not written (top-1 agreement {agreement.agreed}/"
                                     f"{agreement.samples} on {data.name})"))
        agreements.append(require_decisions(agreement, "the output was not written"))
    return checks, agreements
