"""What OpenVINO's CPU plugin executes for an ONNX file: its layers, fusions, layouts and times.

The counterpart of :func:`recalib.deploy.backends.ort.optimized_graph` for OpenVINO. The compiled
model's *runtime model* (``get_runtime_model()``) lists the executed layers after the plugin's
fusions; each carries ``layerType`` (``Convolution``, ``Eltwise``, ``Reorder`` …), the
kernel (``primitiveType``), ``runtimePrecision``, ``outputLayouts`` and
``originalLayersNames``: the ops of the read model that the layer absorbed (a bottleneck's
last conv lists its bias ``Add``, the residual ``Add`` and the ``Relu``). With the
performance counters on (``PERF_COUNT``), ``get_profiling_info()`` gives each layer's time
for the last inference (a layer with a kernel that took under a microsecond reads ``NOT_RUN``:
it is kept, at 0); :func:`executed_graph` keeps the median of several and the fastest (the time
least touched by other load on a shared machine).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recalib.deploy.runner import random_input

__all__ = ["ExecutedLayer", "ExecutedGraph", "executed_graph", "REORDER"]

REORDER = "Reorder"  # the plugin's layout (or precision) conversion layer


@dataclass(frozen=True)
class ExecutedLayer:
    """One layer the plugin ran. ``fused``: op types of the read model it absorbed besides its own
    (``("Add", "Relu")``); ``ms``/``min_ms``: median/fastest time per inference, None when it did no work;
    ``originals``: the names of the read model's ops it computes, its own first (the ONNX frontend names
    an op after its ONNX node, or ``<node>/<part>`` where it splits one; none for a layout reorder)."""

    name: str
    layer_type: str
    primitive: str
    precision: str
    layout: str
    fused: tuple[str, ...]
    ms: float | None
    min_ms: float | None = None
    originals: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExecutedGraph:
    """The executed layers of one compiled model at one input shape, in execution order."""

    layers: tuple[ExecutedLayer, ...]
    shape: tuple[int, ...]
    precision: str
    runs: int

    @property
    def executed(self) -> list[ExecutedLayer]:
        """The layers that did work (constants, reshapes in place and inputs did not)."""
        return [layer for layer in self.layers if layer.ms is not None]

    @property
    def total_ms(self) -> float:
        return sum(layer.ms or 0.0 for layer in self.layers)

    def count_by_type(self) -> dict[str, int]:
        """Executed layers per type, most frequent first."""
        return dict(Counter(layer.layer_type for layer in self.executed).most_common())

    def ms_by_type(self, fastest: bool = False) -> dict[str, float]:
        """Median (``fastest``: minimum) milliseconds per inference summed by layer type, largest first."""
        totals: defaultdict[str, float] = defaultdict(float)
        for layer in self.executed:
            totals[layer.layer_type] += (layer.min_ms if fastest else layer.ms) or 0.0
        return dict(sorted(totals.items(), key=lambda item: -item[1]))

    def reorders(self) -> int:
        """Layout or precision conversions that ran (each one a full copy of its tensor)."""
        return sum(1 for layer in self.executed if layer.layer_type == REORDER)

    def fusions(self) -> dict[str, int]:
        """``"Convolution <- Add+Add+Relu"`` -> how many layers absorbed those ops."""
        found = Counter(f"{layer.layer_type} <- {'+'.join(layer.fused)}" for layer in self.layers if layer.fused)
        return dict(found.most_common())

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "precision": self.precision, "runs": self.runs,
                "total_ms": self.total_ms, "count_by_type": self.count_by_type(),
                "ms_by_type": self.ms_by_type(), "min_ms_by_type": self.ms_by_type(fastest=True), "reorders": self.reorders(), "fusions": self.fusions(),
                "layers": [asdict(layer) for layer in self.layers]}


def _layer_times(compiled: Any, shape: tuple[int, ...], dtype: np.dtype, runs: int) -> dict[str, list[float]]:
    """Milliseconds of each layer that ran, in each of ``runs`` profiled inferences after one warm-up."""
    import openvino as ov

    request = compiled.create_infer_request()
    request.set_input_tensor(ov.Tensor(random_input(shape, dtype)))
    request.infer()
    samples: defaultdict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        request.infer()
        for info in request.get_profiling_info():
            if info.status == ov.ProfilingInfo.Status.EXECUTED or _has_kernel(info.exec_type):
                samples[info.node_name].append(info.real_time.total_seconds() * 1e3)
    return dict(samples)


def _has_kernel(exec_type: str) -> bool:
    """Whether a layer has a kernel of its own: the plugin reports one that ran in under a microsecond as
    ``NOT_RUN`` (0 µs), unlike those with nothing to run (``undef``: fused away; ``unknown_f32``: inputs,
    in-place reshapes)."""
    return exec_type != "undef" and not exec_type.startswith("unknown")


def _fused_types(originals: tuple[str, ...], types: dict[str, str]) -> tuple[str, ...]:
    """Types of the absorbed ops: every original after the first (the layer's own op)."""
    return tuple(types[name] for name in originals[1:] if name in types)


def executed_graph(path: str | Path, shape: tuple[int, ...], *, threads: int | None = None,
                   precision: str = "fp32", runs: int = 10) -> ExecutedGraph:
    """OpenVINO CPU's executed graph of ``path`` at input ``shape``, with per-layer median times.

    Compiled as :class:`recalib.deploy.backends.openvino.OpenVinoRunner` compiles it (latency hint,
    ``threads``, ``precision``) with the performance counters on, made by the one factory that checks the
    precision against the CPU and the file.
    """
    from recalib.deploy.backends.openvino import OpenVinoRunner
    from recalib.deploy.runner import create_runner
    from recalib.deploy.runner_options import RunnerOptions

    runner = create_runner("openvino-cpu", path, RunnerOptions(threads=threads, precision=precision, profile=True))
    assert isinstance(runner, OpenVinoRunner)
    runner.check_shape(shape)
    times = _layer_times(runner.compiled, shape, runner.input_dtype, max(1, runs))
    types = {op.get_friendly_name(): op.get_type_name() for op in runner.model.get_ops()}
    layers = []
    for op in runner.compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        name = op.get_friendly_name()
        originals = tuple(n for n in info["originalLayersNames"].astype(str).split(",") if n)
        layers.append(ExecutedLayer(
            name=name, layer_type=info["layerType"].astype(str), primitive=info["primitiveType"].astype(str),
            precision=info["runtimePrecision"].astype(str), layout=info["outputLayouts"].astype(str),
            fused=_fused_types(originals, types), ms=float(np.median(times[name])) if name in times else None,
            min_ms=min(times[name]) if name in times else None, originals=originals))
    return ExecutedGraph(tuple(layers), tuple(shape), str(runner.settings["precision"]), max(1, runs))
