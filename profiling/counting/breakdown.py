"""How much of a model is recalibration, block by block.

A recalibration block is any module whose class lives in ``recalib.blocks`` (the only place
blocks are defined); only the outermost such module counts, so a block's own sub-layers are
not listed twice (:func:`recalib.profiling.counting.scopes.recalibration_modules`). A model with no
such block (one recalib did not build) is broken down by the gates found in its graph
(:mod:`recalib.profiling.gates.costs`): a gate that is a whole module is counted at its module
path under the conventions asked for; a gate written inline in a larger module only has its
graph counts, which are ``params`` and ``mac``, so under other conventions it counts zero and
its kind says so.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from torch import nn

from recalib.profiling.counting.conventions import Convention, get_convention
from recalib.profiling.counting.counts import Counts
from recalib.profiling.counting.scopes import recalibration_modules

if TYPE_CHECKING:
    from recalib.profiling.gates.costs import GateCost

__all__ = ["BlockShare", "Breakdown", "recalibration_modules", "breakdown"]

@dataclass(frozen=True)
class BlockShare:
    """One inserted block: where it sits, what it is, and what it costs."""

    name: str
    kind: str
    params: float
    flops: float


@dataclass(frozen=True)
class Breakdown:
    """Totals of a model and the share of them spent in recalibration blocks."""

    param_convention: str
    flop_convention: str
    total_params: float
    total_flops: float
    blocks: tuple[BlockShare, ...]

    @property
    def recal_params(self) -> float:
        return sum(b.params for b in self.blocks)

    @property
    def recal_flops(self) -> float:
        return sum(b.flops for b in self.blocks)

    @property
    def param_share(self) -> float:
        """Fraction (0–1) of the model's parameters that are recalibration."""
        return self.recal_params / self.total_params if self.total_params else 0.0

    @property
    def flop_share(self) -> float:
        """Fraction (0–1) of the model's FLOPs spent in recalibration."""
        return self.recal_flops / self.total_flops if self.total_flops else 0.0


def _gate_share(gate: GateCost, counts: Counts, flop_conv: Convention, param_conv: Convention) -> BlockShare:
    g = gate.gate
    kind = f"gate: {g.kind}, {g.activation}"
    if g.whole_module and g.module in counts.params:
        return BlockShare(g.module, kind, counts.total(param_conv, g.module),
                          counts.total(flop_conv, g.module) if g.module in counts.flops else 0.0)
    usable = (param_conv.name, flop_conv.name) == ("params", "mac")
    return BlockShare(g.name, kind + ("" if usable else " (inline: params and mac only)"),
                      gate.params if usable else 0.0, gate.macs if usable else 0.0)


def breakdown(model: nn.Module, counts: Counts, flop_convention: Convention | str = "mac",
              param_convention: Convention | str = "params", gates: Sequence[GateCost] = ()) -> Breakdown:
    """Per-block parameters and FLOPs of ``model`` (``counts`` must come from this model); ``gates``
    (found in its graph) stand in for the blocks of a model without recalib's blocks."""
    flop_conv = get_convention(flop_convention) if isinstance(flop_convention, str) else flop_convention
    param_conv = get_convention(param_convention) if isinstance(param_convention, str) else param_convention
    blocks = tuple(
        BlockShare(name, type(module).__name__, counts.total(param_conv, name),
                   counts.total(flop_conv, name) if name in counts.flops else 0.0)
        for name, module in recalibration_modules(model))
    if not blocks:
        blocks = tuple(_gate_share(g, counts, flop_conv, param_conv) for g in gates)
    return Breakdown(param_conv.name, flop_conv.name, counts.total(param_conv),
                     counts.total(flop_conv), blocks)
