"""Per-layer times of a timed model, each mapped to the module it came from, and the time in its gates.

``recalib bench --profile DIR`` answers *where* a block's overhead goes. onnxruntime's profiler
times each node of the graph it executes (:func:`recalib.deploy.backends.ort.node_times`); that
graph is the exported one after onnxruntime's rewrites, whose nodes keep the exported node's
name, or take its output's name with ``_nchwc`` appended (the blocked-layout copies), or are
layout reorders of their own (``ReorderInput``/``ReorderOutput``: no module). Each exported node
carries its module path (``pkg.torch.onnx.name_scopes``, :func:`recalib.export.gates.scopes.module_scope`),
and the gate detector (:func:`recalib.export.gates.detect.find_gates`) says which nodes compute a
gate, so each layer's time is billed to a module and, where it is one, a gate.
"""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx

from recalib.errors import ConfigError
from recalib.export.prepared import Prepared

__all__ = ["LayerTime", "LayerProfile", "PROFILED_RUNTIMES", "map_layers", "profile_model", "profile_markdown",
           "profile_file", "write_profiles"]

PROFILED_RUNTIMES = ("ort-cpu",)
_BLOCKED = "_nchwc"  # onnxruntime's suffix for a node it moved to the blocked (NCHWc) layout
_REORDER = "layout reorder"


@dataclass(frozen=True)
class LayerTime:
    """One executed node: its name, op type, module path (``""``: the root's own code; None: the
    runtime made it, or the graph does not say), the gate it computes (None: not a gate) and its
    median time per inference."""

    node: str
    op: str
    module: str | None
    gate: str | None
    ms: float


@dataclass(frozen=True)
class LayerProfile:
    """Every executed node of one model on one runtime at one batch."""

    runtime: str
    label: str
    batch: int
    layers: tuple[LayerTime, ...]

    @property
    def total_ms(self) -> float:
        return sum(layer.ms for layer in self.layers)

    @property
    def gate_ms(self) -> float:
        return sum(layer.ms for layer in self.layers if layer.gate is not None)

    def by_module(self) -> dict[str, float]:
        """Milliseconds per module path (``(made by the runtime)``: layout reorders and such), largest first."""
        totals: defaultdict[str, float] = defaultdict(float)
        for layer in self.layers:
            totals["(made by the runtime)" if layer.module is None else layer.module or "(root)"] += layer.ms
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def rows(self) -> list[dict[str, Any]]:
        return [asdict(layer) for layer in self.layers]


def _exported_nodes(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    """The exported nodes by name and by first output's name (what onnxruntime's copies are named after)."""
    found = {node.output[0]: node for node in model.graph.node if node.output}
    return {**found, **{node.name: node for node in model.graph.node if node.name}}


def map_layers(model: onnx.ModelProto, times: dict[str, float]) -> tuple[LayerTime, ...]:
    """Each executed node of ``times`` (name -> ms) with its op, module and gate in ``model``, the
    exported graph the runtime ran."""
    from recalib.export.gates.detect import find_gates
    from recalib.export.gates.scopes import module_scope

    exported = _exported_nodes(model)
    gates = {name: gate for gate in find_gates(model) for name in (*gate.nodes, gate.mul)}
    layers = []
    for name, ms in times.items():
        node = exported.get(name) or exported.get(name.removesuffix(_BLOCKED))
        if node is None:
            layers.append(LayerTime(name, _REORDER if name.startswith("Reorder") else "?", None, None, ms))
            continue
        scope, gate = module_scope(node), gates.get(node.name)
        module = None if scope is None else (scope[-1] if scope else "")
        if gate is not None and gate.module is not None and not (module or "").startswith(gate.module):
            module = gate.module  # a node export rewrote (a mean made a pooling) keeps the root's scope
        layers.append(LayerTime(name, node.op_type, module, None if gate is None else gate.name, ms))
    return tuple(layers)


def profile_model(model: Prepared, runtime: str, batch: int, threads: int | None, runs: int = 10) -> LayerProfile:
    """The per-layer profile of ``model``'s export for ``runtime`` at ``batch``."""
    from recalib.deploy.backends.ort import node_times

    path = model.file_for(runtime)
    if runtime not in PROFILED_RUNTIMES or path is None:
        raise ConfigError(f"per-layer profiles are taken on {', '.join(PROFILED_RUNTIMES)} from an exported "
                          f"file; {model.label} on {runtime} cannot be profiled")
    times = node_times(path, (batch, *model.input_chw), threads, runs)
    return LayerProfile(runtime, model.label, batch, map_layers(onnx.load(str(path)), times))


def profile_markdown(profiles: list[LayerProfile], skipped: dict[str, str]) -> str:
    """The summary: per model, runtime and batch, the total, the share in gates, the costliest modules."""
    lines = ["# Per-layer profile", "",
             "Median time per node over 10 profiled runs (profiler on: the total exceeds the timed latency); "
             "each node billed to the module it was exported from, and to its gate where it computes one.", ""]
    for p in profiles:
        share = 100 * p.gate_ms / p.total_ms if p.total_ms else 0.0
        top = ", ".join(f"`{module}` {ms:.3f}" for module, ms in list(p.by_module().items())[:5])
        lines += [f"## {p.label} on {p.runtime}, batch {p.batch}", "",
                  f"- total {p.total_ms:.3f} ms in {len(p.layers)} nodes; in gates {p.gate_ms:.3f} ms ({share:.1f}%)",
                  f"- costliest modules (ms): {top}", f"- every node: `{profile_file(p)}`", ""]
    lines += [f"- {name} not profiled: {why}" for name, why in skipped.items()]
    return "\n".join(lines) + "\n"


def profile_file(profile: LayerProfile) -> str:
    """The CSV file name of one profile (a label may hold characters a file name cannot)."""
    return re.sub(r"[^\w.=+-]+", "_", f"{profile.runtime}-b{profile.batch}-{profile.label}") + ".csv"


def write_profiles(folder: Path, profiles: list[LayerProfile], skipped: dict[str, str], force: bool) -> list[Path]:
    """``folder/summary.md`` and one CSV per profile, each written whole or not at all."""
    from recalib.infra.atomic import write_atomic
    from recalib.profiling.report.writer import csv_text

    folder.mkdir(parents=True, exist_ok=True)
    written = [write_atomic(folder / profile_file(p), csv_text(p.rows()), force=force) for p in profiles]
    return written + [write_atomic(folder / "summary.md", profile_markdown(profiles, skipped), force=force)]
