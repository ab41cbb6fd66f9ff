"""What each runtime made of an export, for ``benchmarks/overhead.py``'s page: why a block costs what it costs.

onnxruntime CPU: the layout copies (``ReorderInput``/``ReorderOutput``) and NCHWc nodes in its
optimised graph (:func:`recalib.deploy.backends.ort.optimized_graph`). OpenVINO CPU: its executed
graph, profiled (reorders, fused layers, time by layer type;
:func:`recalib.deploy.backends.openvino_graph.executed_graph`). Both read the exported file, so
they run while the latency audit's exports exist (its ``exported`` hook).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from recalib.export.prepared import Prepared

__all__ = ["EVIDENCE_RUNTIMES", "ort_layout", "openvino_graph", "evidence", "export_facts"]

EVIDENCE_RUNTIMES = ("ort-cpu", "openvino-cpu")


def ort_layout(path: Path) -> dict[str, int]:
    """Layout copies and fused convolutions in onnxruntime CPU's optimised graph of ``path``."""
    from recalib.deploy.backends.ort import optimized_graph

    nodes = optimized_graph(path).node
    ops = Counter(n.op_type for n in nodes if n.domain.endswith("nchwc"))
    return {"reorders": ops["ReorderInput"] + ops["ReorderOutput"], "nchwc_nodes": sum(ops.values()),
            "conv_sum_fused": sum(1 for n in nodes if n.domain.endswith("nchwc") and n.op_type == "Conv"
                                  and len(n.input) > 3), "nodes": len(nodes)}


def openvino_graph(path: Path, shape: tuple[int, ...], threads: int) -> dict[str, Any]:
    """OpenVINO CPU's executed graph of ``path``: reorders, fusions, layer counts and times by type."""
    from recalib.deploy.backends.openvino_graph import executed_graph

    data = executed_graph(path, shape, threads=threads, runs=5 if shape[0] == 1 else 3).to_dict()
    del data["layers"]
    return data


def evidence(runtime: str, model: Prepared, batch: int, threads: int) -> dict[str, Any]:
    """What ``runtime`` (one of :data:`EVIDENCE_RUNTIMES`) executes of the file it times of ``model``."""
    path = model.file_for(runtime)
    assert path is not None, f"{model.label}: the audit hands over exported models only"
    return ort_layout(path) if runtime == "ort-cpu" else openvino_graph(path, (batch, *model.input_chw), threads)


def export_facts(models: Iterable[Prepared]) -> dict[str, dict[str, Any]]:
    """Per label and runtime: the export's form, op histogram, rewrites and parity error."""
    return {m.label: {runtime: {"form": e.describe(), "ops": e.report.op_histogram, "rewrites": e.report.rewrites,
                                "max_rel_error": e.report.max_rel_error} for runtime, e in m.exports.items()}
            for m in models}
