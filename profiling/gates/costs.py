"""Each gate's parameters and multiply-adds, and their share of the whole network.

A gate found in a PyTorch module's graph (:mod:`recalib.export.gates`) that is a whole module is
counted by fvcore at its module path (:mod:`recalib.profiling.counting.counts`: the module's own
parameters, unfolded, and its ``mac``), like every other count of a module; a gate written inline
in a larger module, and every gate of an ``.onnx`` file, is counted from the graph
(:mod:`recalib.profiling.counting.graph_counts`: its branch's nodes and the constants only it reads).
Multiply-adds follow the ``mac`` convention either way (both routes give the same numbers);
parameters differ only where the graph folded a batch norm into a convolution. fvcore also gives
``mac-all`` (pooling, activations, the gate's own product), where SE's cost mostly lies: timm's
SE-ResNet-50 spends 0.061% of its ``mac`` in its gates but 0.33% of its ``mac-all``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from recalib.export.gates.gate import Gate
from recalib.profiling.counting.counts import Counts
from recalib.profiling.counting.graph_counts import GraphCounts

__all__ = ["GateCost", "GateCosts", "gate_costs", "FVCORE", "GRAPH"]

FVCORE = "fvcore, by module"
GRAPH = "the graph"


@dataclass(frozen=True)
class GateCost:
    """One gate's parameters and multiply-adds (``mac``), and what counted them; ``macs_all`` (``mac-all``:
    pooling, activations and the gate's own product too) where fvcore counted it, else None."""

    gate: Gate
    params: float
    macs: float
    counted_by: str
    macs_all: float | None = None


@dataclass(frozen=True)
class GateCosts:
    """Every gate's cost and the network's totals (``counted_by`` says how the totals were counted)."""

    gates: tuple[GateCost, ...]
    total_params: float
    total_macs: float
    counted_by: str
    total_macs_all: float | None = None

    @property
    def params(self) -> float:
        return sum(c.params for c in self.gates)

    @property
    def macs(self) -> float:
        return sum(c.macs for c in self.gates)

    @property
    def macs_all(self) -> float | None:
        """The gates' ``mac-all`` (None unless fvcore counted every gate)."""
        values = [c.macs_all for c in self.gates]
        return None if None in values else sum(v for v in values if v is not None)

    @property
    def mac_all_share(self) -> float | None:
        """Fraction (0–1) of the network's ``mac-all`` in its gates (None where it was not counted)."""
        part = self.macs_all
        return None if part is None or not self.total_macs_all else part / self.total_macs_all

    @property
    def param_share(self) -> float:
        """Fraction (0–1) of the network's parameters in its gates."""
        return self.params / self.total_params if self.total_params else 0.0

    @property
    def mac_share(self) -> float:
        """Fraction (0–1) of the network's multiply-adds in its gates."""
        return self.macs / self.total_macs if self.total_macs else 0.0


def _by_module(gate: Gate, counts: Counts | None) -> GateCost | None:
    if counts is None or not gate.whole_module or not gate.module or gate.module not in counts.params:
        return None
    module = gate.module
    return GateCost(gate, counts.total("params", module), counts.total("mac", module), FVCORE,
                    counts.total("mac-all", module) if module in counts.flops else 0.0)


def gate_costs(gates: Sequence[Gate], graph: GraphCounts, counts: Counts | None = None) -> GateCosts:
    """Each gate's cost: by module from ``counts`` (fvcore's, of the module the graph came from) where
    the gate is a whole module, else from ``graph``; the totals from ``counts`` when given."""
    costs = tuple(_by_module(g, counts) or GateCost(g, graph.params_of(g.weights), graph.macs_of(g.nodes), GRAPH)
                  for g in gates)
    if counts is None:
        return GateCosts(costs, graph.total_params, graph.total_macs, GRAPH)
    return GateCosts(costs, counts.total("params"), counts.total("mac"), FVCORE, counts.total("mac-all"))
