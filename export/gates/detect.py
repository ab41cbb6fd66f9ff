"""Find every recalibration gate of an ONNX graph (:func:`find_gates`).

For each ``Mul`` (the last first, so a gate's inner products are not taken for gates), one
operand is tried as the feature ``x`` and the other as the gate ``g``; ``g`` is a gate when:

1. walking back from ``g`` through its producers, every path stops at a *descriptor* before
   reaching ``x`` or a graph input: a reduction (``ReduceMean``, ``GlobalAveragePool``,
   ``ReduceMax`` …) or a node that shrinks the spatial extent (a strided pooling or depthwise
   convolution, a downsampling ``Resize``, a product with a pooling matrix). Shape reads
   (``Shape``) and constants end a path too;
2. every path from a descriptor to ``g`` passes a sigmoid-like squash
   (:mod:`recalib.export.gates.activation`).

Upstream of a descriptor, the nodes that serve the gate alone (GE-θ's chain of strided depthwise
convolutions, a pooling matrix's first product) belong to it too. A walk of more than
:data:`MAX_BRANCH` nodes is no gate. A SiLU (``x * sigmoid(x)``) has no descriptor, so it is not a
gate; an input-independent scale (a folded CC-static map) is a constant, so it is not one either.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import onnx

from recalib.export.gates.activation import is_squash, squash_name
from recalib.export.gates.gate import Gate, shape_text
from recalib.export.gates.scopes import SHAPE_READS, ModuleMap
from recalib.export.gates.tail import scale_tail
from recalib.export.graph.index import GraphIndex, Shape, node_name, per_sample

__all__ = ["find_gates", "is_descriptor", "MAX_BRANCH", "REDUCTIONS"]

MAX_BRANCH = 256
REDUCTIONS = frozenset({"ReduceMean", "ReduceMax", "ReduceMin", "ReduceSum", "ReduceL1", "ReduceL2",
                        "ReduceLogSumExp", "ReduceSumSquare", "GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"})
SHRINKING = frozenset({"AveragePool", "MaxPool", "LpPool", "Conv", "Resize", "MatMul"})


def _spatial(shape: Shape | None) -> int | None:
    if shape is None or len(shape) < 3 or not all(isinstance(d, int) for d in shape[2:]):
        return None
    size = 1
    for d in shape[2:]:
        size *= d
    return size


def _data_input(index: GraphIndex, node: onnx.NodeProto) -> str | None:
    """The tensor a node reduces: its first input, or a product's one computed operand."""
    if node.op_type != "MatMul":
        return node.input[0]
    computed = [name for name in node.input if name not in index.constants]
    return computed[0] if len(computed) == 1 else None


def is_descriptor(index: GraphIndex, node: onnx.NodeProto) -> bool:
    """A reduction, or a pooling-like node whose output covers fewer positions than its input."""
    if node.op_type in REDUCTIONS:
        return True
    if node.op_type not in SHRINKING:
        return False
    data = _data_input(index, node)
    before, after = _spatial(index.shape(data) if data else None), _spatial(index.shape(node.output[0]))
    return before is not None and after is not None and after < before


@dataclass
class _Branch:
    """The nodes computing one gate operand, found by :func:`_walk`."""

    nodes: dict[str, onnx.NodeProto] = field(default_factory=dict)  # by first output, in discovery order
    descriptors: list[onnx.NodeProto] = field(default_factory=list)

    def add(self, node: onnx.NodeProto) -> None:
        self.nodes[node.output[0]] = node

    def __contains__(self, node: onnx.NodeProto) -> bool:
        return node.output[0] in self.nodes


def _walk(index: GraphIndex, gate: str, feature: str) -> _Branch | None:
    """Walk back from ``gate`` to its descriptors (rule 1 of the module docstring), or None."""
    if gate in index.constants or gate not in index.producers:
        return None
    branch, stack = _Branch(), [index.producers[gate]]
    while stack:
        node = stack.pop()
        if node in branch:
            continue
        branch.add(node)
        if len(branch.nodes) > MAX_BRANCH:
            return None
        if node.op_type in SHAPE_READS:
            continue
        if is_descriptor(index, node):
            branch.descriptors.append(node)
            continue
        for name in node.input:
            if not name or name in index.constants:
                continue
            if name == feature or name not in index.producers:
                return None  # the feature or the graph input reached without a descriptor
            stack.append(index.producers[name])
    return branch if branch.descriptors else None


def _serves_only(index: GraphIndex, node: onnx.NodeProto, branch: _Branch, mul: onnx.NodeProto) -> bool:
    """Whether every reader of ``node``'s outputs is in ``branch`` (or is ``mul``)."""
    keys = {mul.output[0], *branch.nodes}
    return all(o not in index.outputs and all(c.output[0] in keys for c in index.consumers.get(o, []))
               for o in node.output)


def _extend_upstream(index: GraphIndex, branch: _Branch, feature: str, mul: onnx.NodeProto) -> None:
    """Add the nodes upstream of the descriptors that serve the gate alone."""
    pending = {n.output[0]: n for d in branch.descriptors for n in index.upstream(d) if n not in branch}
    grown = True
    while grown:
        grown = False
        for key, node in list(pending.items()):
            if feature in node.output or not _serves_only(index, node, branch, mul):
                continue
            branch.add(node)
            del pending[key]
            pending.update({n.output[0]: n for n in index.upstream(node) if n not in branch})
            grown = True


def _reached_unsquashed(index: GraphIndex, branch: _Branch) -> set[str]:
    """Tensors a descriptor's values reach inside the branch without passing a squash."""
    reached = {d.output[0] for d in branch.descriptors}
    for node in index.nodes:  # graph order is topological
        if node in branch and node.op_type not in SHAPE_READS and not is_squash(index, node) \
                and any(name in reached for name in node.input):
            reached.update(node.output)
    return reached


def _last_squashes(index: GraphIndex, branch: _Branch, gate: str) -> list[onnx.NodeProto]:
    """The squashes nearest ``gate``: those reaching it without passing another."""
    found, stack, seen = [], [gate], set()
    while stack:
        node = index.producers.get(stack.pop())
        if node is None or node not in branch or node.output[0] in seen:
            continue
        seen.add(node.output[0])
        if is_squash(index, node):
            found.append(node)
        elif node.op_type not in SHAPE_READS:
            stack.extend(name for name in node.input if name)
    return found


def _activation(index: GraphIndex, squashes: list[onnx.NodeProto]) -> str:
    names = [squash_name(index, s) for s in squashes]
    kinds = list(dict.fromkeys(names))
    return " + ".join(f"{names.count(k)} × {k}" if names.count(k) > 1 else k for k in kinds)


def _kind(index: GraphIndex, squashes: list[onnx.NodeProto], feature: Shape | None) -> str:
    """``channel`` (one value per channel), ``spatial`` (one per position) or ``regional`` (per channel
    and region), from how many values each squash gives a batch item."""
    sizes = {per_sample(index.shape(s.output[0])) for s in squashes}
    if feature is None or len(feature) != 4 or None in sizes or not all(isinstance(d, int) for d in feature[1:]):
        return "unknown"
    channels, positions = feature[1], feature[2] * feature[3]
    if sizes == {channels}:
        return "channel"
    return "spatial" if sizes == {positions} else "regional"


def _refusal(index: GraphIndex, output: str, feature: str) -> str | None:
    """Why the gate's ``output`` cannot be replaced by its feature input (None: it can)."""
    before, after = index.shape(feature), index.shape(output)
    if before is None or after is None or None in before or None in after:
        return (f"the shapes of {feature} ({shape_text(before)}) and of the product ({shape_text(after)}) "
                f"are not known, so the feature cannot be shown to stand in for the product")
    if tuple(before) != tuple(after):
        return (f"the product ({shape_text(after)}) is larger than the feature {feature} ({shape_text(before)}): "
                f"the multiply broadcasts the feature itself, so it has no identity to fall back to")
    return None


def _gate(index: GraphIndex, mul: onnx.NodeProto, feature: str, gate: str, branch: _Branch,
          modules: ModuleMap) -> Gate | None:
    if gate in _reached_unsquashed(index, branch):
        return None
    _extend_upstream(index, branch, feature, mul)
    squashes = _last_squashes(index, branch, gate)
    ordered = [n for n in index.nodes if n in branch]
    exclusive = _exclusive(index, ordered, mul)
    module = modules.module_of([node_name(mul), *(node_name(n) for n in exclusive)])
    tail = scale_tail(index, modules, mul, module)
    own = exclusive + tail
    names = [node_name(n) for n in own]
    weights = tuple(dict.fromkeys(i for n in own for i in n.input if i in index.initializers
                                  and all(c in own for c in index.consumers[i])))
    output = tail[-1].output[0] if tail else mul.output[0]
    return Gate(number=0, mul=node_name(mul), output=output, feature=feature,
                feature_shape=index.shape(feature), gate=gate, nodes=tuple(names), weights=weights,
                shared=len(ordered) - len(own) + len(tail),
                descriptors=tuple(dict.fromkeys(d.op_type for d in branch.descriptors)),
                activation=_activation(index, squashes), kind=_kind(index, squashes, index.shape(feature)),
                module=module, whole_module=modules.is_whole(module, [node_name(mul), *map(node_name, ordered + tail)]),
                refused=_refusal(index, output, feature))


def _exclusive(index: GraphIndex, ordered: list[onnx.NodeProto], mul: onnx.NodeProto) -> list[onnx.NodeProto]:
    """The branch nodes that only the gate needs (what removing the multiply leaves unread), in graph order."""
    dead = {mul.output[0]}
    own = []
    for node in reversed(ordered):
        if all(o not in index.outputs and all(c.output[0] in dead for c in index.consumers.get(o, []))
               for o in node.output):
            dead.add(node.output[0])
            own.append(node)
    return own[::-1]


def _numbered(gates: list[Gate]) -> list[Gate]:
    """Gates in graph order, numbered from 1, with stages numbered by feature map size."""
    sizes = list(dict.fromkeys(g.stage_size for g in gates if g.stage_size != "?"))
    return [replace(g, number=i, stage=sizes.index(g.stage_size) + 1 if g.stage_size in sizes else 0)
            for i, g in enumerate(gates, 1)]


def find_gates(graph: onnx.ModelProto | GraphIndex) -> list[Gate]:
    """Every recalibration gate of ``graph``, in graph order (see the module docstring)."""
    index = graph if isinstance(graph, GraphIndex) else GraphIndex(graph)
    modules, found, claimed = ModuleMap(index), list[Gate](), set[str]()
    order = {node.output[0]: position for position, node in enumerate(index.nodes)}
    for mul in reversed(list(index.nodes)):
        if mul.op_type != "Mul" or len(mul.input) != 2 or mul.output[0] in claimed:
            continue
        for feature, gate in ((mul.input[0], mul.input[1]), (mul.input[1], mul.input[0])):
            if feature in index.constants:
                continue
            branch = _walk(index, gate, feature)
            found_gate = None if branch is None else _gate(index, mul, feature, gate, branch, modules)
            if found_gate is not None and branch is not None:
                found.append(found_gate)
                claimed.update(branch.nodes)
                break
    return _numbered(sorted(found, key=lambda g: order[g.output]))
