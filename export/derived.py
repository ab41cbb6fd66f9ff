"""What is derived from one built model once, and shared by all its exports and runtimes.

A model measured on several runtimes is exported once per target form (plain, onnxruntime's,
OpenVINO's), run folded on the torch runtimes, and judged against its float64 truth by every
export's check and every runtime's. Each of those uses the same two derived models, made on
first use and kept: the folded inference copy (:func:`recalib.folding.fold_model`) and the float64
twin (:class:`recalib.export.parity.Truth`). A derivation is a copy taken then, so ``model`` must
not change afterwards.
"""
from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from recalib.export.float64 import fast_float64
from recalib.export.inputs import random_input
from recalib.export.parity import Reference, Truth
from recalib.folding import FoldResult, fold_model

__all__ = ["Derived", "REFERENCE_SEED"]

REFERENCE_SEED = 1  # the fixed input runtimes are judged on before timing


class Derived:
    """``model`` (``input_chw`` its ``(C, H, W)``) folded once, and its float64 truth."""

    def __init__(self, model: nn.Module, input_chw: Sequence[int]) -> None:
        self.model, self.input_chw = model, tuple(int(d) for d in input_chw)
        self.truth = Truth(model)
        self._folded: FoldResult | None = None
        self._references: dict[int, Reference] = {}

    def folded(self) -> FoldResult:
        """The folded inference copy, its rewrites and its check (done and checked in float64), made once."""
        if self._folded is None:
            with fast_float64():
                self._folded = fold_model(self.model, self.input_chw)
        return self._folded

    def reference(self, batch: int) -> Reference:
        """The truth on one fixed random input of ``batch`` (what runtimes are judged on before timing),
        computed once per batch."""
        if batch not in self._references:
            self._references[batch] = self.truth.reference(
                random_input((batch, *self.input_chw), seed=REFERENCE_SEED))
        return self._references[batch]
