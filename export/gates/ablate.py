"""Gates ablated into identity: each multiply replaced by its feature input, the dead branch removed.

The multiply's readers read the feature instead (an ``Identity`` keeps the name where the product is
a graph output or is read inside a subgraph); then every node that nobody reads any more is
removed, and every initializer that only removed nodes read. Nothing else changes: the rest of
the graph, its names and its metadata are the original's, so the two files time the same network
but for the gates. A gate whose multiply cannot fall back to its feature (``Gate.refused``) is left
as it is and reported.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import onnx

from recalib.errors import ConfigError
from recalib.export.gates.gate import Gate
from recalib.export.graph.index import GraphIndex, subgraph_reads

__all__ = ["Ablation", "ablate"]


@dataclass(frozen=True)
class Ablation:
    """An ablated graph: the gates removed, those left as they are (each ``refused`` says why), and
    how many nodes and initializers went with them."""

    model: onnx.ModelProto
    gates: tuple[Gate, ...]
    refused: tuple[Gate, ...]
    removed_nodes: int
    removed_weights: int

    def describe(self) -> str:
        kept = "".join(f"; left as is: {g.name} ({g.refused})" for g in self.refused)
        return (f"{len(self.gates)} gate(s) ablated: {self.removed_nodes} nodes and {self.removed_weights} "
                f"initializers removed{kept}")


def _bypass(graph: onnx.GraphProto, index: GraphIndex, gate: Gate) -> set[str]:
    """Route the readers of ``gate``'s product to its feature; return the tensors no longer read."""
    mul = index.producers[gate.output]
    readers = index.consumers.get(gate.output, [])
    if gate.output in index.outputs or any(gate.output in subgraph_reads(r) for r in readers):
        mul.op_type, mul.domain = "Identity", ""
        del mul.input[:]
        mul.input.append(gate.feature)
        return {gate.gate}
    for reader in readers:
        for position, name in enumerate(reader.input):
            if name == gate.output:
                reader.input[position] = gate.feature
    mul.ClearField("output")  # marks it removed; its inputs are released below
    return set(mul.input)


def ablate(model: onnx.ModelProto, gates: Sequence[Gate]) -> Ablation:
    """A copy of ``model`` with ``gates`` ablated (found in ``model`` by
    :func:`~recalib.export.gates.detect.find_gates`); a :class:`ConfigError` when none can be."""
    usable = tuple(g for g in gates if g.refused is None)
    refused = tuple(g for g in gates if g.refused is not None)
    if not usable:
        reasons = "; ".join(f"{g.name}: {g.refused}" for g in refused) or "no gates were given"
        raise ConfigError(f"none of the gates can be ablated, so there is nothing to compare: {reasons}")
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    graph, index = copy.graph, GraphIndex(copy)
    released = set().union(*(_bypass(graph, index, g) for g in usable))
    removed = _remove_dead(graph, released)
    weights = [t for t in graph.initializer if t.name not in _read(graph)]
    for tensor in weights:
        graph.initializer.remove(tensor)
    kept_names = _read(graph) | {o for n in graph.node for o in n.output}
    for info in [v for v in graph.value_info if v.name not in kept_names]:
        graph.value_info.remove(info)
    return Ablation(copy, usable, refused, removed, len(weights))


def _read(graph: onnx.GraphProto) -> set[str]:
    """Every tensor a node of ``graph`` reads, and its outputs."""
    return {name for n in graph.node for name in (*n.input, *subgraph_reads(n))} | {o.name for o in graph.output}


def _remove_dead(graph: onnx.GraphProto, released: set[str]) -> int:
    """Remove the bypassed multiplies and, from ``released`` upward, every node nobody reads; return how many."""
    reads = Counter(name for n in graph.node if n.output for name in (*n.input, *subgraph_reads(n)))
    reads.update(o.name for o in graph.output)
    producers = {o: n for n in graph.node for o in n.output if o}
    dead = [n for n in graph.node if not n.output]
    gone: set[str] = set()
    stack = [producers[name] for name in released if name in producers and not reads[name]]
    while stack:
        node = stack.pop()
        if any(reads[o] for o in node.output) or node.output[0] in gone:
            continue
        dead.append(node)
        gone.add(node.output[0])
        for name in (*node.input, *subgraph_reads(node)):
            reads[name] -= 1
            if not reads[name] and name in producers:
                stack.append(producers[name])
    for node in dead:
        graph.node.remove(node)
    return len(dead)
