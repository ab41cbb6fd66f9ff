"""Which runtimes give per-layer profiles, and taking one: each runtime's own profiler, mapped through
the model's export to modules and gates (:mod:`recalib.profiling.latency.layers`)."""
from __future__ import annotations

from pathlib import Path

import onnx

from recalib.errors import ConfigError
from recalib.export.prepared import Prepared
from recalib.profiling.latency.layers import ExecutedTime, LayerProfile, LayerTime, map_layers, module_layers

__all__ = ["PROFILED_RUNTIMES", "why_not_profiled", "profile_layers"]

PROFILED_RUNTIMES = ("ort-cpu", "openvino-cpu", "torch-eager")
_LAYOUT = "layout reorder"
_WHY_NOT = {
    "torch-compile": "Inductor fuses ops of several modules into generated kernels, so its times have no "
                     "module to be billed to; profile torch-eager for the modules, or the exported graph on "
                     "ort-cpu or openvino-cpu",
    "tensorrt": "recalib does not read TensorRT's per-layer profiler; run the engine with trtexec "
                "--dumpProfile --separateProfileRun",
}


def why_not_profiled(runtime: str, precision: str = "fp32") -> str | None:
    """Why ``runtime`` gives no per-layer profile here (None: it does)."""
    if runtime == "torch-eager" and precision != "fp32":
        return "torch-eager is profiled in fp32 only"
    if runtime in PROFILED_RUNTIMES:
        return None
    return _WHY_NOT.get(runtime, f"per-layer profiles are taken on {', '.join(PROFILED_RUNTIMES)}")


def _onnx_file(model: Prepared, runtime: str) -> Path:
    """The exported file ``runtime`` ran (torch-eager: the model's first export, for its modules' gates)."""
    path = model.file if runtime == "torch-eager" else model.file_for(runtime)
    if path is None or path.suffix != ".onnx":
        raise ConfigError(f"{model.label} has no exported .onnx file to map {runtime}'s layers to modules; "
                          f"export it first (recalib export)")
    return path


def _ort_layers(path: Path, shape: tuple[int, ...], threads: int | None, runs: int) -> list[ExecutedTime]:
    from recalib.deploy.backends.ort import node_times

    return [ExecutedTime(name, (name,), ms, _LAYOUT if name.startswith("Reorder") else op, kernel=op)
            for name, (op, ms) in node_times(path, shape, threads, runs).items()]


def _openvino_layers(path: Path, shape: tuple[int, ...], threads: int | None, runs: int,
                     precision: str) -> list[ExecutedTime]:
    from recalib.deploy.backends.openvino_graph import REORDER, executed_graph

    graph = executed_graph(path, shape, threads=threads, precision=precision, runs=runs)
    return [ExecutedTime(layer.name, layer.originals, layer.ms or 0.0,
                         _LAYOUT if layer.layer_type == REORDER else layer.layer_type) for layer in graph.executed]


def profile_layers(model: Prepared, runtime: str, batch: int, threads: int | None, runs: int = 10,
                  precision: str = "fp32") -> LayerProfile:
    """The per-layer profile of ``model`` on ``runtime`` at ``batch``: its export for an ONNX runtime, its
    folded module (what torch-eager times) for torch-eager."""
    why = why_not_profiled(runtime, precision)
    if why is not None:
        raise ConfigError(f"{model.label} on {runtime} cannot be profiled: {why}")
    path, shape = _onnx_file(model, runtime), (batch, *model.input_chw)
    layers: tuple[LayerTime, ...]
    if runtime == "torch-eager":
        from recalib.deploy.backends.torch_profile import module_op_times

        layers = module_layers(onnx.load(str(path)), module_op_times(model.inference(), shape, threads, runs))
    elif runtime == "openvino-cpu":
        layers = map_layers(onnx.load(str(path)), _openvino_layers(path, shape, threads, runs, precision))
    else:
        layers = map_layers(onnx.load(str(path)), _ort_layers(path, shape, threads, runs))
    return LayerProfile(runtime, model.label, batch, max(1, runs), layers)
