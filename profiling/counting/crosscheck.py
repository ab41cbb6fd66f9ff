"""Keep the multiply-add core honest: compare it with ``torch.utils.flop_counter``.

fvcore reads a ``torch.jit`` trace; PyTorch's :class:`~torch.utils.flop_counter.FlopCounterMode`
intercepts the dispatched kernels. They are independent routes to the same number, so the
convolution and matrix-product core of our counts (``conv`` + ``fc`` categories) times two
must equal FlopCounterMode's total, which counts two FLOPs per multiply-add.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from recalib.profiling.counting.counts import Counts

__all__ = ["CrossCheck", "torch_flops", "crosscheck"]


@dataclass(frozen=True)
class CrossCheck:
    """fvcore's core (in FLOPs, 2 per multiply-add) against FlopCounterMode's total."""

    fvcore_flops: int
    torch_flops: int
    torch_by_op: dict[str, int]

    @property
    def difference(self) -> int:
        return self.fvcore_flops - self.torch_flops

    @property
    def ok(self) -> bool:
        """Exact agreement: both sides count whole multiply-adds of the same kernels."""
        return self.difference == 0

    def describe(self) -> str:
        verdict = "agree" if self.ok else f"DISAGREE by {self.difference:+,}"
        return (f"fvcore core 2×(conv+fc+fixed) = {self.fvcore_flops:,} FLOPs; "
                f"torch.utils.flop_counter = {self.torch_flops:,} FLOPs: {verdict}")


def torch_flops(model: nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[int, dict[str, int]]:
    """FlopCounterMode's total and per-operator FLOPs for one eval-mode forward pass."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(*inputs)
    finally:
        model.train(was_training)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts().get("Global", {}).items()}
    return int(counter.get_total_flops()), by_op


def crosscheck(model: nn.Module, counts: Counts) -> CrossCheck:
    """Re-run ``model`` at the shape ``counts`` was traced with and compare the cores."""
    core = counts.flops[""]
    ours = 2 * int(sum(core.get(cat, 0) for cat in ("conv", "fc", "fixed")))
    total, by_op = torch_flops(model, (torch.randn(*counts.input_shape),))
    return CrossCheck(ours, total, by_op)
