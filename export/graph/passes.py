"""Run exact rewrites over a graph, and say what fired and what was left as it was.

:func:`run_rewrites` infers shapes first (ONNX shape inference with data propagation, so a
``Resize`` whose sizes are computed from ``Shape`` gets its static output size), then offers every
node of the main graph, in order, to each rewrite until one answers (:mod:`recalib.export.graph.rewrite`).
Subgraphs (``If``, ``Loop`` bodies) are not visited. The graph is changed in place; the
:class:`PassReport` lists every rewrite that fired and every candidate left as it was, with why.
"""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from onnx_ir.passes.common import ShapeInferencePass
from onnxscript import ir

from recalib.export.graph.edit import node_label
from recalib.export.graph.rewrite import GraphRewrite, Rewritten

__all__ = ["PassEntry", "PassReport", "run_rewrites", "infer_shapes"]


@dataclass(frozen=True)
class PassEntry:
    """One rewrite's answer on one node: ``fired`` with its detail, or left as it was with the reason."""

    rewrite: str
    node: str
    fired: bool
    text: str


@dataclass
class PassReport:
    """What :func:`run_rewrites` did to one graph; ``summaries`` says what each rewrite does."""

    entries: list[PassEntry] = field(default_factory=list)
    summaries: dict[str, str] = field(default_factory=dict)

    def fired(self) -> list[str]:
        """One line per rewrite that fired: name, count, what it does."""
        counts = Counter(e.rewrite for e in self.entries if e.fired)
        return [f"{name} x{count}: {self.summaries[name]}" for name, count in sorted(counts.items())]

    def left_as_is(self) -> list[str]:
        """One line per candidate a rewrite recognised but could not rewrite exactly, with why."""
        return [f"{e.rewrite} left {e.node} as it is: {e.text}" for e in self.entries if not e.fired]

    def to_dict(self) -> dict[str, Any]:
        return {"fired": self.fired(), "left_as_is": self.left_as_is(), "entries": [asdict(e) for e in self.entries]}


def infer_shapes(model: ir.Model) -> None:
    """Annotate every value the ONNX shape inference can (a graph it cannot infer is left as it was:
    its rewrites then find no static sizes, and say so)."""
    logger = logging.getLogger("onnx_ir.passes.common.shape_inference")
    level = logger.level
    logger.setLevel(logging.ERROR)  # a failed inference is reported per candidate, not as a log warning
    try:
        ShapeInferencePass(check_type=False, strict_mode=False, data_prop=True)(model)
    finally:
        logger.setLevel(level)


def run_rewrites(model: ir.Model, rewrites: Sequence[GraphRewrite]) -> PassReport:
    """Apply ``rewrites`` to ``model``'s main graph in place (see the module docstring)."""
    infer_shapes(model)
    report = PassReport(summaries={r.name: r.summary for r in rewrites})
    for node in list(model.graph):  # a snapshot: rewrites add and remove nodes
        if node.graph is None:  # removed with a node rewritten before it
            continue
        label = node_label(node)
        for rewrite in rewrites:
            outcome = rewrite.visit(node)
            if outcome is not None:
                fired = isinstance(outcome, Rewritten)
                text = outcome.detail if isinstance(outcome, Rewritten) else outcome.reason
                report.entries.append(PassEntry(rewrite.name, label, fired, text))
                break
    return report
