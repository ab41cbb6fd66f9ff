"""What one exact graph rewrite is: a named check-and-replace on one node, for some targets.

A rewrite is a :class:`GraphRewrite` record whose ``visit`` looks at one node of a graph whose
shapes were inferred (:func:`recalib.export.graph.passes.run_rewrites`) and answers:

* ``None``: the node is not the rewrite's pattern; the graph is untouched;
* :class:`LeftAsIs`: the node is its pattern (a gate's descriptor or spread, say), but a
  precondition of exactness fails (dynamic spatial sizes, an attribute it cannot keep, pixel
  picks that would change); the graph is untouched and the reason is reported;
* :class:`Rewritten`: it replaced the node (through :func:`recalib.export.graph.edit.replace_node`,
  so the graph's outputs keep their names and nothing it orphaned is left), and ``detail`` says by
  what.

A rewrite is exact or it does not fire: it computes the same function as the nodes it replaces,
up to float32 rounding, on every input the graph accepts. Adding one is one module under
:mod:`recalib.export.rewrites` that defines its ``REWRITE``, listed in
:data:`recalib.export.optimize.GRAPH_REWRITES`.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from onnxscript import ir

__all__ = ["GraphRewrite", "Rewritten", "LeftAsIs", "Outcome"]


@dataclass(frozen=True)
class Rewritten:
    """The node was replaced; ``detail`` says by what (e.g. the constant scales a resize got)."""

    detail: str


@dataclass(frozen=True)
class LeftAsIs:
    """The node is the rewrite's pattern but a precondition fails; ``reason`` says which, and what would fix it."""

    reason: str


Outcome = Union[Rewritten, LeftAsIs]


@dataclass(frozen=True)
class GraphRewrite:
    """One exact rewrite: ``name`` and ``summary`` as reports print them, the export ``targets``
    (:data:`recalib.export.rewrites.TARGETS`) it serves, and ``visit`` (see the module docstring)."""

    name: str
    summary: str
    targets: tuple[str, ...]
    visit: Callable[[ir.Node], Outcome | None]
