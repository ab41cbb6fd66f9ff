"""An ONNX graph indexed for reading and surgery: who produces and who consumes each tensor, which
tensors are constants, their values and their shapes.

Pure ONNX and numpy. The gate detector and ablation (:mod:`recalib.export.gates`), the graph
counts (:mod:`recalib.profiling.counting.graph_counts`) and the TensorRT lint read graphs through
:class:`GraphIndex`, so each question about a graph is answered one way. Nodes are named by
:func:`node_name` (their name, else ``op_type:first output``: other exporters leave names empty);
a tensor read inside a subgraph (``If``, ``Loop``) counts as consumed by the node holding it.
Shapes come from ONNX shape inference, run once on first use on a copy of the graph whose large
weights are declared by their dims only (their bytes are not serialised for the inference).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

__all__ = ["GraphIndex", "Shape", "attribute", "node_name", "subgraph_reads", "per_sample"]

_SMALL = 1024  # initializers up to this many elements keep their values for shape inference

Shape = tuple[Any, ...]
"""A tensor's dims: ints where static, the symbolic name (``"batch"``) or ``None`` where unknown."""


def attribute(node: onnx.NodeProto, name: str, default: Any = None) -> Any:
    """The value of ``node``'s attribute ``name`` (``default`` when it has none)."""
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def node_name(node: onnx.NodeProto) -> str:
    """A node's name, or ``op_type:first output`` for the unnamed nodes other exporters write."""
    return node.name or f"{node.op_type}:{node.output[0] if node.output else ''}"


def subgraph_reads(node: onnx.NodeProto) -> set[str]:
    """Tensors of the enclosing scope that the subgraphs of ``node`` (``If``, ``Loop``, ``Scan``) read."""
    reads: set[str] = set()
    for a in node.attribute:
        graphs = [a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)
        for graph in graphs:
            made = {i.name for i in graph.input} | {t.name for t in graph.initializer}
            for inner in graph.node:
                made |= set(inner.output)
                reads |= {name for name in (*inner.input, *subgraph_reads(inner)) if name and name not in made}
    return reads


def per_sample(shape: Shape | None) -> int | None:
    """Elements of one batch item (dims after the first), None when any of them is not static."""
    if shape is None or len(shape) < 1 or not all(isinstance(d, int) for d in shape[1:]):
        return None
    return int(np.prod(shape[1:], dtype=np.int64))


def _dims(value: onnx.ValueInfoProto) -> Shape | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or None) for d in tensor.shape.dim)


def _without_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy of ``model`` without the bytes of its large initializers (declared as inputs of their
    dims instead); small ones stay, since shape inference reads the values of shape constants."""
    light = onnx.ModelProto()
    light.CopyFrom(model)
    large = [t for t in light.graph.initializer if int(np.prod(t.dims, dtype=np.int64)) > _SMALL]
    kept = [t for t in light.graph.initializer if int(np.prod(t.dims, dtype=np.int64)) <= _SMALL]
    del light.graph.initializer[:]
    light.graph.initializer.extend(kept)
    light.graph.input.extend(onnx.helper.make_tensor_value_info(t.name, t.data_type, t.dims) for t in large)
    return light


@dataclass
class GraphIndex:
    """``model``'s nodes, indexed (see the module docstring). The model is read, never changed."""

    model: onnx.ModelProto
    producers: dict[str, onnx.NodeProto] = field(init=False)
    consumers: dict[str, list[onnx.NodeProto]] = field(init=False)
    initializers: dict[str, onnx.TensorProto] = field(init=False)
    outputs: set[str] = field(init=False)

    def __post_init__(self) -> None:
        graph = self.model.graph
        self.producers = {o: n for n in graph.node for o in n.output if o}
        self.consumers = defaultdict(list)
        for node in graph.node:
            for name in dict.fromkeys((*node.input, *subgraph_reads(node))):
                if name:
                    self.consumers[name].append(node)
        self.initializers = {t.name: t for t in graph.initializer}
        self.outputs = {o.name for o in graph.output}

    @property
    def nodes(self) -> Iterable[onnx.NodeProto]:
        return self.model.graph.node

    @cached_property
    def constants(self) -> set[str]:
        """Initializers and the outputs of ``Constant`` nodes."""
        return set(self.initializers) | {o for n in self.nodes if n.op_type == "Constant" for o in n.output}

    @property
    def consumed(self) -> set[str]:
        """Every tensor some node reads, and the graph's outputs."""
        return {name for name, nodes in self.consumers.items() if nodes} | self.outputs

    def value(self, name: str) -> np.ndarray | None:
        """The value of a constant tensor (None for a computed one, or external weights not loaded)."""
        if name in self.initializers:
            tensor = self.initializers[name]
            return None if tensor.data_location == onnx.TensorProto.EXTERNAL else numpy_helper.to_array(tensor)
        node = self.producers.get(name)
        if node is None or node.op_type != "Constant" or not node.attribute:
            return None
        value = onnx.helper.get_attribute_value(node.attribute[0])
        return numpy_helper.to_array(value) if isinstance(value, onnx.TensorProto) else np.asarray(value)

    @cached_property
    def shapes(self) -> dict[str, Shape | None]:
        """Every tensor's dims as ONNX shape inference finds them (``{}`` entries missing where it cannot)."""
        try:
            inferred = onnx.shape_inference.infer_shapes(_without_weights(self.model), data_prop=True)
        except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError):
            inferred = self.model
        graph = inferred.graph
        found = {v.name: _dims(v) for v in (*graph.input, *graph.value_info, *graph.output)}
        found.update({t.name: tuple(t.dims) for t in self.model.graph.initializer})
        return found

    def shape(self, name: str) -> Shape | None:
        return self.shapes.get(name)

    def upstream(self, node: onnx.NodeProto) -> Iterator[onnx.NodeProto]:
        """The nodes producing ``node``'s computed inputs."""
        for name in node.input:
            if name in self.producers:
                yield self.producers[name]
