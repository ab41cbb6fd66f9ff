"""Per-layer times of a timed model, each mapped to the module it came from, and the time in its gates.

``recalib bench --profile DIR`` answers *where* a block's overhead goes, on three runtimes
(:mod:`recalib.profiling.latency.layer_runtimes` takes the times). Every runtime's layers are
billed through one mapping, the exported ONNX graph: each exported node carries its module path
(``pkg.torch.onnx.name_scopes``, :func:`recalib.export.gates.scopes.module_scope`), and the gate
detector (:func:`recalib.export.gates.detect.find_gates`) says which nodes compute a gate.

* **onnxruntime** times each node of the graph it executes; its nodes keep the exported node's
  name, or take its output's name with ``_nchwc`` appended (the blocked-layout copies), or are
  layout reorders of their own (``ReorderInput``/``ReorderOutput``: no module). A fused node is
  named after its last op's output (a convolution with its ReLU: ``relu_1_nchwc``); the op type of
  its kernel (``Conv``) finds its own node a few producers back, and the ReLU goes to ``fused``,
  as for OpenVINO below.
* **OpenVINO** times each layer of its executed graph; a layer lists the read model's ops it
  computes (``originalLayersNames``), named after their ONNX node (``<node>/<part>`` where one node
  became several ops). A *fused* layer's time is billed whole to its own op, the first it lists
  and the one it is named after, with the others in the ``fused`` column: a convolution that
  absorbed its bias, ReLU or sigmoid is the convolution's, and an SE gate's multiply that
  absorbed the block's residual ``Add`` and ``ReLU`` is the gate's (so OpenVINO's share in gates
  includes those: read the ``fused`` column). Layout reorders have no original: no module.
* **torch eager** is timed per module and op (:mod:`recalib.deploy.backends.torch_profile`): each
  row's module is its own; its gate is the gate of the innermost enclosing module whose exported
  nodes all belong to that gate (:func:`gate_modules`), so an op in a module that also computes
  other things (a multiply in the block's own ``forward``) is billed to no gate.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import onnx

__all__ = ["LayerTime", "LayerProfile", "ExecutedTime", "map_layers", "gate_modules", "module_layers",
           "profile_markdown", "profile_line", "profile_file", "write_profiles"]

_BLOCKED = "_nchwc"  # onnxruntime's suffix for a node it moved to the blocked (NCHWc) layout
_PART = "/"  # OpenVINO's separator of an ONNX node's name and the part of it an op computes
_RUNTIME = "(made by the runtime)"


@dataclass(frozen=True)
class LayerTime:
    """One executed layer: its name, op type, module path (``""``: the root's own code; None: the
    runtime made it, or the graph does not say), the gate it computes (None: not a gate), the
    exported nodes it absorbed besides its own, and its median time per inference."""

    node: str
    op: str
    module: str | None
    gate: str | None
    fused: tuple[str, ...]
    ms: float


@dataclass(frozen=True)
class ExecutedTime:
    """One layer as a runtime reports it: its name, the exported nodes it computes (its own first;
    onnxruntime's and OpenVINO's spellings are resolved by :func:`map_layers`), its median ms, the
    op column where none of them is exported (a layout reorder), and the op type of the kernel that
    ran where the runtime names a fused node after its last op (onnxruntime: ``relu_1`` ran ``Conv``)."""

    name: str
    originals: tuple[str, ...]
    ms: float
    made: str = "?"
    kernel: str | None = None


@dataclass(frozen=True)
class LayerProfile:
    """Every executed layer of one model on one runtime at one batch, over ``runs`` profiled runs."""

    runtime: str
    label: str
    batch: int
    runs: int
    layers: tuple[LayerTime, ...]

    @property
    def total_ms(self) -> float:
        return sum(layer.ms for layer in self.layers)

    @property
    def gate_ms(self) -> float:
        return sum(layer.ms for layer in self.layers if layer.gate is not None)

    @property
    def gate_share(self) -> float:
        """The fraction of the profiled time spent in gates (0 without time)."""
        return self.gate_ms / self.total_ms if self.total_ms else 0.0

    def by_module(self) -> dict[str, float]:
        """Milliseconds per module path (``(made by the runtime)``: layout reorders and such), largest first."""
        totals: defaultdict[str, float] = defaultdict(float)
        for layer in self.layers:
            totals[_RUNTIME if layer.module is None else layer.module or "(root)"] += layer.ms
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def rows(self) -> list[dict[str, Any]]:
        return [{**asdict(layer), "fused": "+".join(layer.fused)} for layer in self.layers]


def _exported_nodes(model: onnx.ModelProto) -> dict[str, onnx.NodeProto]:
    """The exported nodes by name and by first output's name (what onnxruntime's copies are named after)."""
    found = {node.output[0]: node for node in model.graph.node if node.output}
    return {**found, **{node.name: node for node in model.graph.node if node.name}}


def _resolve(exported: dict[str, onnx.NodeProto], name: str) -> onnx.NodeProto | None:
    """The exported node a runtime's name stands for: itself, onnxruntime's blocked copy, OpenVINO's part."""
    for candidate in (name, name.removesuffix(_BLOCKED), name.split(_PART)[0]):
        if candidate in exported:
            return exported[candidate]
    return None


def _kernel_first(last: onnx.NodeProto, kernel: str, producers: dict[str, onnx.NodeProto],
                  depth: int = 3) -> list[onnx.NodeProto]:
    """``[kernel node, ..., last]``: the nodes of a fused node named after its ``last`` op, found by walking
    back (at most ``depth`` nodes) to the nearest node of the ``kernel`` type (``FusedConv``: a ``Conv``);
    ``[last]`` when it is that type already or none is near."""
    wanted = kernel.removeprefix("Fused")
    paths = [[last]]
    for _ in range(depth):
        if any(path[-1].op_type == wanted for path in paths):
            break
        paths = [[*path, producers[name]] for path in paths for name in path[-1].input if name in producers]
    found = next((path for path in paths if path[-1].op_type == wanted), [last])
    return found[::-1]


def map_layers(model: onnx.ModelProto, executed: Sequence[ExecutedTime]) -> tuple[LayerTime, ...]:
    """Each executed layer with the op, module and gate of its own node in ``model``, the exported graph
    the runtime ran, and the nodes it absorbed."""
    from recalib.export.gates.detect import find_gates
    from recalib.export.gates.scopes import module_scope

    exported = _exported_nodes(model)
    producers = {output: node for node in model.graph.node for output in node.output}
    gates = {name: gate for gate in find_gates(model) for name in (*gate.nodes, gate.mul)}
    layers = []
    for layer in executed:
        found = [node for node in (_resolve(exported, name) for name in layer.originals) if node is not None]
        if found and layer.kernel is not None:
            found = _kernel_first(found[0], layer.kernel, producers) + found[1:]
        nodes = list({node.name or node.output[0]: node for node in found}.values())
        if not nodes:
            layers.append(LayerTime(layer.name, layer.made, None, None, (), layer.ms))
            continue
        own, fused = nodes[0], tuple(node.name or node.output[0] for node in nodes[1:])
        scope, gate = module_scope(own), gates.get(own.name)
        module = None if scope is None else (scope[-1] if scope else "")
        if gate is not None and gate.module is not None and not (module or "").startswith(gate.module):
            module = gate.module  # a node export rewrote (a mean made a pooling) keeps the root's scope
        layers.append(LayerTime(layer.name, own.op_type, module, None if gate is None else gate.name, fused, layer.ms))
    return tuple(layers)


def gate_modules(model: onnx.ModelProto) -> dict[str, str]:
    """Module path -> the gate it computes, for each module whose exported nodes all belong to one gate
    (an SE module, or the excitation MLP inside a block that multiplies in its own ``forward``)."""
    from recalib.export.gates.detect import find_gates
    from recalib.export.gates.scopes import ModuleMap
    from recalib.export.graph.index import GraphIndex

    index = GraphIndex(model)
    modules, found = ModuleMap(index), {}
    for gate in find_gates(index):
        own = {*gate.nodes, gate.mul}
        for path in {path for name in own for path in modules.scopes.get(name, ())}:
            if modules.is_whole(path, own):
                found[path] = gate.name
    return found


def module_layers(model: onnx.ModelProto, times: dict[tuple[str, str], float]) -> tuple[LayerTime, ...]:
    """torch's ``(module path, op) -> ms`` as layers, each billed to the gate of its innermost module
    that computes one gate alone (:func:`gate_modules` of ``model``, the module's export)."""
    owners = gate_modules(model)
    layers = []
    for (path, op), ms in times.items():
        enclosing = [".".join(path.split(".")[:depth]) for depth in range(path.count(".") + 1, 0, -1)] if path else []
        gate = next((owners[p] for p in enclosing if p in owners), None)
        layers.append(LayerTime(f"{path or '(root)'}/{op}", op, path, gate, (), ms))
    return tuple(layers)


_HOW = {"ort-cpu": "onnxruntime's profiler, per node of its optimised graph",
        "openvino-cpu": "OpenVINO's performance counters, per layer of its executed graph (a fused layer billed "
                        "to its own op; the ops it absorbed in `fused`)",
        "torch-eager": "torch.profiler, per module and op (`(python)`: the module's forward outside its ops, "
                       "with the profiling hooks)"}


def profile_line(profile: LayerProfile) -> str:
    """One profile's totals: what the CLI prints and the summary lists."""
    return (f"{profile.label} on {profile.runtime}, batch {profile.batch}: {profile.total_ms:.3f} ms in "
            f"{len(profile.layers)} layers; in gates {profile.gate_ms:.3f} ms ({100 * profile.gate_share:.1f}%)")


def profile_markdown(profiles: list[LayerProfile], skipped: dict[str, str]) -> str:
    """The summary: per model, runtime and batch, the total, the share in gates, the costliest modules."""
    lines = ["# Per-layer profile", "",
             "Median time per layer over the profiled runs (profiler on: the total exceeds the timed latency); "
             "each layer billed to the module it was exported from, and to its gate where it computes one.", ""]
    lines += [f"- {runtime}: {how}" for runtime, how in _HOW.items() if any(p.runtime == runtime for p in profiles)]
    for p in profiles:
        top = ", ".join(f"`{module}` {ms:.3f}" for module, ms in list(p.by_module().items())[:5])
        lines += ["", f"## {p.label} on {p.runtime}, batch {p.batch}", "", f"- {profile_line(p)}, {p.runs} runs",
                  f"- costliest modules (ms): {top}", f"- every layer: `{profile_file(p)}`"]
    lines += [""] + [f"- {name} not profiled: {why}" for name, why in skipped.items()]
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
