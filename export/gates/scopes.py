"""Where a gate sits in the PyTorch module it was exported from.

torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``, what :mod:`recalib.export`
uses) writes on every node the module path it came from, as ``pkg.torch.onnx.name_scopes``: a
Python list literal ``['', 'layer1', 'layer1.0', 'layer1.0.se', 'mul_36']``, the root module, each
enclosing module's path, then the FX node's own name. A gate's module is the deepest module
holding all its nodes; it is *whole* when that module holds nothing else, so PyTorch can
bypass it (:mod:`recalib.export.gates.modules`). Graphs from other exporters carry no such
metadata, and their gates are named by their multiply's node.
"""
from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import cached_property

import onnx

from recalib.export.graph.index import GraphIndex, node_name

__all__ = ["NAME_SCOPES", "module_scope", "ModuleMap"]

NAME_SCOPES = "pkg.torch.onnx.name_scopes"
SHAPE_READS = ("Shape", "Size")  # nodes that read a tensor's shape, not its values


def module_scope(node: onnx.NodeProto) -> tuple[str, ...] | None:
    """The paths of the modules enclosing ``node``, outermost first (``()``: the root module's own
    code); None when the node carries no scope."""
    text = next((p.value for p in node.metadata_props if p.key == NAME_SCOPES), None)
    if text is None:
        return None
    try:
        scopes = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(scopes, list) or not scopes or scopes[0] != "" or not all(isinstance(s, str) for s in scopes):
        return None
    return tuple(scopes[1:-1])


class ModuleMap:
    """The modules of a graph's nodes, to find each gate's module and whether it is whole."""

    def __init__(self, index: GraphIndex) -> None:
        self.index = index

    @cached_property
    def scopes(self) -> dict[str, tuple[str, ...]]:
        """Node name → its enclosing module paths, for the nodes that carry them (shape reads left out)."""
        found = {}
        for node in self.index.nodes:
            scope = module_scope(node)
            if scope is not None and node.op_type not in SHAPE_READS:
                found[node_name(node)] = scope
        return found

    def module_of(self, nodes: Iterable[str]) -> str | None:
        """The deepest module holding every one of ``nodes`` (None: the root, or no metadata)."""
        scopes = [self.scopes[n] for n in nodes if n in self.scopes]
        if not scopes:
            return None
        common = scopes[0]
        for scope in scopes[1:]:
            length = next((i for i, (a, b) in enumerate(zip(common, scope)) if a != b), min(len(common), len(scope)))
            common = common[:length]
        return common[-1] if common else None

    def nodes_in(self, module: str) -> set[str]:
        """Every node (shape reads left out) inside ``module``."""
        return {name for name, scope in self.scopes.items() if module in scope}

    def is_whole(self, module: str | None, gate_nodes: Iterable[str]) -> bool:
        """Whether ``module`` computes ``gate_nodes`` and nothing else."""
        return module is not None and self.nodes_in(module) <= set(gate_nodes)
