"""Parameters and multiply-adds counted from an ONNX graph itself, node by node.

For an ``.onnx`` file there is no module to trace, so the graph is counted from its shapes (ONNX
shape inference, :class:`recalib.export.graph.index.GraphIndex`) under the ``mac`` convention of
:mod:`recalib.profiling.counting.conventions`: one per multiply-add of convolutions (``Conv``,
``ConvTranspose``), linear layers (``Gemm``) and matrix products (``MatMul``), no bias adds,
nothing else; per batch item. On a module exported by torch's dynamo exporter this equals
fvcore's ``mac`` count of the module exactly (a test holds them together).

*Parameters* are the elements of the graph's floating-point constants (initializers and
``Constant`` nodes) with more than one element, or that a weighted op reads as its weight: what
a runtime holds, so constant buffers count (a pooling matrix, a folded map) and batch norms
folded into convolutions count as the convolution's bias. Scalars of arithmetic (``+ 3``, ``/ 6``)
do not.

onnx-tool (PyPI ``onnx-tool``) counts graphs too; it is not used: its multiply-adds include
bias adds and element-wise work in one figure (12,086,656 against fvcore's 12,084,224 ``mac`` on a
small SE-ResNet), and its own shape engine and table printer are 7,300 lines (plus ``tabulate``)
for what ONNX shape inference and the four formulas here give.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import onnx

from recalib.export.graph.index import GraphIndex, attribute, node_name, per_sample

__all__ = ["GraphCounts", "count_graph", "node_macs", "WEIGHTED"]

WEIGHTED = frozenset({"Conv", "ConvTranspose", "Gemm", "BatchNormalization", "InstanceNormalization",
                      "LayerNormalization", "GroupNormalization", "PRelu"})
_FLOATS = {onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16}


def _dims(index: GraphIndex, name: str) -> tuple[int, ...] | None:
    shape = index.shape(name)
    return None if shape is None or not all(isinstance(d, int) for d in shape[1:]) else tuple(shape)


def node_macs(index: GraphIndex, node: onnx.NodeProto) -> int | None:
    """Multiply-adds of one node per batch item (0 for ops the ``mac`` convention does not count; None
    where the shapes it needs are unknown)."""
    op = node.op_type
    if op not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
        return 0
    weight, out = index.shape(node.input[1]), per_sample(_dims(index, node.output[0]))
    if weight is None or out is None or not all(isinstance(d, int) for d in weight):
        return None
    if op == "Conv":
        return out * int(np.prod(weight[1:], dtype=np.int64))
    if op == "ConvTranspose":
        data = per_sample(_dims(index, node.input[0]))
        return None if data is None else data * int(np.prod(weight[1:], dtype=np.int64))
    first = index.shape(node.input[0])
    if first is None or not isinstance(first[-1], int):
        return None
    inner = first[-2] if op == "Gemm" and attribute(node, "transA", 0) else first[-1]
    return out * int(inner)


@dataclass(frozen=True)
class GraphCounts:
    """Per node multiply-adds and per constant parameter counts of one graph; ``unknown`` names the
    nodes whose work could not be counted (shapes missing), so totals that miss work say so."""

    macs: dict[str, int]
    params: dict[str, int]
    unknown: tuple[str, ...]

    @property
    def total_macs(self) -> int:
        return sum(self.macs.values())

    @property
    def total_params(self) -> int:
        return sum(self.params.values())

    def macs_of(self, nodes: Iterable[str]) -> int:
        return sum(self.macs.get(n, 0) for n in nodes)

    def params_of(self, constants: Iterable[str]) -> int:
        return sum(self.params.get(c, 0) for c in constants)


def _parameters(index: GraphIndex) -> dict[str, int]:
    weights = {name for node in index.nodes if node.op_type in WEIGHTED for name in node.input[1:] if name}
    found = {}
    for name in index.constants:
        tensor = index.initializers.get(name)
        if tensor is not None:
            floating, size = tensor.data_type in _FLOATS, int(np.prod(tensor.dims, dtype=np.int64))
        else:
            value = index.value(name)
            if value is None:
                continue
            floating, size = np.issubdtype(value.dtype, np.floating), int(value.size)
        if floating and (size > 1 or name in weights):
            found[name] = size
    return found


def count_graph(graph: onnx.ModelProto | GraphIndex) -> GraphCounts:
    """Every node's multiply-adds and every parameter tensor's size (see the module docstring)."""
    index = graph if isinstance(graph, GraphIndex) else GraphIndex(graph)
    macs, unknown = {}, []
    for node in index.nodes:
        count = node_macs(index, node)
        if count is None:
            unknown.append(node_name(node))
        elif count:
            macs[node_name(node)] = count
    return GraphCounts(macs, _parameters(index), tuple(unknown))
