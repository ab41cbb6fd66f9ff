"""Every gate of a model, located and counted: what ``recalib gates MODEL`` shows.

A PyTorch module is exported first (:func:`recalib.export.gates.modules.module_graph`) and its gates
are found in that graph, so a module and its ``.onnx`` file give the same gates; the module's own
counts (fvcore) then attribute parameters and multiply-adds by module path. For recalib's own
models, every recalibration block in which no gate was found is listed (``missed``): the
input-independent CC blocks are constants after export (a scale that folds into a convolution,
or one multiply by a constant map), with no descriptor to find.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
from torch import nn

from recalib.export.gates.detect import find_gates
from recalib.export.gates.gate import Gate, shape_text
from recalib.export.gates.modules import module_graph
from recalib.export.graph.index import GraphIndex
from recalib.export.prepared import Prepared
from recalib.profiling.counting.counts import Counts, count_module
from recalib.profiling.counting.graph_counts import count_graph
from recalib.profiling.counting.scopes import recalibration_modules
from recalib.profiling.gates.costs import GateCosts, gate_costs

__all__ = ["GateInventory", "inventory", "inventory_of_module", "inventory_of_graph"]


@dataclass(frozen=True)
class GateInventory:
    """The gates of one model, their costs, and the recalibration blocks where none was found."""

    label: str
    input_chw: tuple[int, ...]
    costs: GateCosts
    missed: tuple[str, ...] = ()

    @property
    def gates(self) -> list[Gate]:
        return [c.gate for c in self.costs.gates]

    def to_json(self) -> dict[str, Any]:
        c = self.costs
        return {"model": self.label, "input_chw": list(self.input_chw), "counted_by": c.counted_by,
                "params": c.total_params, "macs": c.total_macs, "gate_params": c.params, "gate_macs": c.macs,
                "param_share": c.param_share, "mac_share": c.mac_share, "macs_all": c.total_macs_all,
                "gate_macs_all": c.macs_all, "mac_all_share": c.mac_all_share, "missed_blocks": list(self.missed),
                "gates": [_gate_json(cost.gate) | {"params": cost.params, "macs": cost.macs, "macs_all": cost.macs_all,
                                                    "counted_by": cost.counted_by} for cost in c.gates]}


def _gate_json(gate: Gate) -> dict[str, Any]:
    return {"number": gate.number, "name": gate.name, "module": gate.module, "whole_module": gate.whole_module,
            "stage": gate.stage, "stage_size": gate.stage_size, "mul": gate.mul, "nodes": list(gate.nodes),
            "feature": gate.feature, "feature_shape": shape_text(gate.feature_shape), "kind": gate.kind,
            "descriptors": list(gate.descriptors), "activation": gate.activation, "ablatable": gate.refused is None,
            "refused": gate.refused}


def inventory_of_module(model: nn.Module, input_chw: tuple[int, ...], label: str,
                        counts: Counts | None = None) -> GateInventory:
    """The gates of ``model`` (found in its exported graph) with fvcore's counts by module path
    (``counts``, when the caller traced the model already at batch 1)."""
    index = GraphIndex(module_graph(model, input_chw))
    gates = find_gates(index)
    costs = gate_costs(gates, count_graph(index), counts or count_module(model, (1, *input_chw)))
    found = [g.module for g in gates if g.module]
    missed = tuple(f"{name} ({type(block).__name__})" for name, block in recalibration_modules(model)
                   if not any(m == name or m.startswith(name + ".") for m in found))
    return GateInventory(label, tuple(input_chw), costs, missed)


def inventory_of_graph(graph: onnx.ModelProto, input_chw: tuple[int, ...], label: str) -> GateInventory:
    """The gates of an ONNX graph, counted from the graph."""
    index = GraphIndex(graph)
    return GateInventory(label, tuple(input_chw), gate_costs(find_gates(index), count_graph(index)))


def inventory(model: Prepared) -> GateInventory:
    """The gates of a prepared model: its PyTorch module's where it has one, else its file's."""
    if model.module is not None:
        return inventory_of_module(model.module, model.input_chw, model.label)
    assert model.file is not None
    return inventory_of_graph(onnx.load(str(Path(model.file)), load_external_data=False), model.input_chw, model.label)
