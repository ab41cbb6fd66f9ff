"""Proof that an ablation removed something: the ablated graph must compute another function.

On one seeded random input, the ablated graph's outputs must differ from the original's by more
than the parity bound (:mod:`recalib.export.parity`: what rounding alone can explain), or the
comparison could pass by accident. Some weights make it vacuous, and the check then says why,
gate by gate: the tensor a gate scales is zero everywhere (a norm initialised at zero, timm's
``zero_init_last``), the gate is exactly 1, or its change dies before the output (a layer
zeroed after it). Random weights must not be degenerate (the model's preparation draws them so);
trained ones never are.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import onnx

from recalib.export.gates.ablate import Ablation
from recalib.export.gates.gate import Gate
from recalib.export.inputs import random_input
from recalib.export.parity import relative_error
from recalib.export.verify import ort_session, run_onnx

__all__ = ["AblationCheck", "check_ablation", "IDENTITY_SLACK"]

IDENTITY_SLACK = 1e-6  # a gate within this of 1 everywhere multiplies by 1 up to float32 rounding


@dataclass(frozen=True)
class AblationCheck:
    """The ablated graph against the original on one input: ``difference`` (relative to the largest
    original output) against ``bound``; ``reasons`` say why the weights make it vacuous, if they do."""

    difference: float
    bound: float
    reasons: tuple[str, ...] = ()

    @property
    def differs(self) -> bool:
        return self.difference > self.bound

    def describe(self) -> str:
        if self.differs:
            return f"the ablated graph differs from the original by {self.difference:.2e} (> bound {self.bound:.1e})"
        why = "; ".join(self.reasons) or "the gates' changes do not reach the output"
        return (f"VACUOUS: the ablated graph differs from the original by only {self.difference:.2e} (bound "
                f"{self.bound:.1e}), so these weights cannot show what the gates do: {why}")


def _run(model: onnx.ModelProto, x: np.ndarray, extra: Sequence[str] = ()) -> list[np.ndarray]:
    if extra:
        probe = onnx.ModelProto()
        probe.CopyFrom(model)
        probe.graph.output.extend(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
                                  for name in extra)
        model = probe
    return run_onnx(ort_session(model.SerializeToString(), threads=1), x)


def _diagnose(model: onnx.ModelProto, gates: Sequence[Gate], x: np.ndarray) -> tuple[str, ...]:
    """What each gate does on ``x``, where it does nothing that can reach the output."""
    tensors = [name for g in gates for name in (g.feature, g.gate)]
    values = _run(model, x, tensors)[-len(tensors):]
    reasons = []
    for gate, feature, scale in zip(gates, values[0::2], values[1::2]):
        if not np.any(feature):
            reasons.append(f"{gate.name}: the tensor it scales ({gate.feature}) is zero everywhere, e.g. a norm "
                           f"initialised at zero (timm's zero_init_last); redraw those weights")
        elif float(np.max(np.abs(scale - 1.0))) <= IDENTITY_SLACK:
            reasons.append(f"{gate.name}: the gate is exactly 1")
    return tuple(reasons)


def check_ablation(original: onnx.ModelProto, ablation: Ablation, input_chw: Sequence[int], bound: float,
                   seed: int = 0) -> AblationCheck:
    """Run both graphs on one random ``(1, *input_chw)`` input (``seed``) with onnxruntime and judge them."""
    x = random_input((1, *input_chw), seed=seed)
    difference, _ = relative_error(_run(original, x), _run(ablation.model, x))
    reasons = () if difference > bound else _diagnose(original, ablation.gates, x)
    return AblationCheck(difference, bound, reasons)
