"""``openvino-cpu``: an ONNX file compiled by OpenVINO's CPU plugin.

OpenVINO reads the ``.onnx`` file itself (no conversion step) and compiles it with settings
fixed here rather than left to the plugin, so a result says what ran:

* **int8** runs a QDQ graph (``recalib export --precision int8``): the plugin's low-precision
  transformations turn its quantise/dequantise pairs into u8/i8 layers, and whatever it leaves in float
  computes in f32; :attr:`OpenVinoRunner.settings` counts the ``int8_layers`` that ran (none is refused).
* **precision**: ``INFERENCE_PRECISION_HINT`` is set explicitly.
 The CPU plugin's default is
  bf16 wherever the CPU has native bf16 (AVX512_BF16 or AMX: this project's 2-core AMD EPYC
  reads back ``bfloat16``), which keeps 8 bits of mantissa and cannot pass an f32 parity
  check; ``fp32`` is the default here, ``bf16`` an explicit choice. The compiled model's
  own value is read back and kept in :attr:`OpenVinoRunner.settings`.
* **threads** (``INFERENCE_NUM_THREADS``) and the **performance hint** (``latency``: one
  stream using every thread for one request, what a synchronous step measures;
  ``throughput``: several streams for concurrent requests) are set, and read back too.

Each runner has one infer request; ``prepare`` binds a fixed input tensor to a request of
its own, so the timed step is the inference alone.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recalib.deploy.runner import Runner, random_input, to_numpy
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.timing import Step
from recalib.export.inputs import validate_inputs
from recalib.errors import ConfigError

__all__ = ["OpenVinoRunner", "PRECISIONS", "PERFORMANCE_HINTS", "compile_onnx"]

# our precision names -> OpenVINO's inference precision (ov.Type attribute names); int8 is the QDQ graph's
# quantised ops, whatever is left in float computes in f32
PRECISIONS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
PERFORMANCE_HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT"}
_INPUT_TYPES = {"f32": np.float32, "f16": np.float16}
# read-back properties recorded per runner: our name -> OpenVINO property
_SETTINGS = {"precision": "INFERENCE_PRECISION_HINT", "hint": "PERFORMANCE_HINT",
             "threads": "INFERENCE_NUM_THREADS", "streams": "NUM_STREAMS", "pinning": "ENABLE_CPU_PINNING"}


def _check_choice(name: str, value: str, choices: dict[str, str]) -> None:
    if value not in choices:
        raise ConfigError(f"openvino-cpu {name} {value!r} is not one of {', '.join(choices)}")


def _config(threads: int | None, precision: str, hint: str, profile: bool) -> dict[str, Any]:
    import openvino as ov
    import openvino.properties as props
    import openvino.properties.hint as hints

    config: dict[str, Any] = {
        hints.inference_precision: getattr(ov.Type, PRECISIONS[precision]),
        hints.performance_mode: getattr(hints.PerformanceMode, PERFORMANCE_HINTS[hint]),
        props.enable_profiling: profile}
    if threads is not None:
        config[props.inference_num_threads] = threads
    return config


def compile_onnx(path: str | Path, options: RunnerOptions = RunnerOptions()) -> tuple[Any, Any]:
    """``(model, compiled_model)``: ``path`` read by OpenVINO and compiled for the CPU.

    ``options.threads`` None leaves OpenVINO's default (one per core); ``options.hint`` defaults to
    ``latency``; ``options.profile`` turns on the per-layer performance counters (``PERF_COUNT``)
    that :mod:`recalib.deploy.backends.openvino_graph` reads.
    """
    import openvino as ov

    precision, hint = options.compute_precision, options.hint or "latency"
    _check_choice("precision", precision, PRECISIONS)
    _check_choice("hint", hint, PERFORMANCE_HINTS)
    config = _config(options.threads, precision, hint, bool(options.profile))
    core = ov.Core()
    try:
        model = core.read_model(str(path))
    except RuntimeError as exc:
        raise ConfigError(f"OpenVINO cannot read {path}: {_last_line(exc)}; pass an ONNX file "
                          f"written by `recalib export`") from None
    try:
        return model, core.compile_model(model, "CPU", config)
    except RuntimeError as exc:
        raise ConfigError(f"OpenVINO cannot compile {path} for the CPU: {_last_line(exc)}") from None


def _last_line(exc: BaseException) -> str:
    """OpenVINO's messages start with C++ source locations; keep the last, meaningful line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


class OpenVinoRunner(Runner):
    """``path`` compiled by OpenVINO for the CPU, with explicit precision, threads and hint.

    ``settings`` holds what the compiled model reports (``precision`` ``f32``/``bf16``,
    ``hint``, ``threads``, ``streams``, ``pinning``), as strings and ints for reports.
    """

    backend = "openvino-cpu"
    device = "cpu"

    def __init__(self, path: str | Path, *, device: str = "cpu", options: RunnerOptions = RunnerOptions()) -> None:
        if device != "cpu":
            raise ConfigError(f"openvino-cpu runs on the CPU, not {device!r}")
        self.path = Path(path)
        self.model, self.compiled = compile_onnx(path, options)
        self.settings = {key: _plain(self.compiled.get_property(name)) for key, name in _SETTINGS.items()}
        precision = options.compute_precision
        if precision == "int8":
            self.settings["int8_layers"] = _int8_layers(self.compiled)
            if not self.settings["int8_layers"]:
                raise ConfigError(f"OpenVINO compiled no layer of {self.path} in int8 (its CPU plugin did not take "
                                  f"the QDQ pairs); the result would not be int8")
        if self.settings["precision"] != PRECISIONS[precision]:
            raise ConfigError(f"OpenVINO compiled {self.path} in {self.settings['precision']}, not the "
                              f"requested {precision}; this CPU plugin cannot run {precision}")
        self._read_io()
        self.request = self.compiled.create_infer_request()

    def _read_io(self) -> None:
        inputs, outputs = self.compiled.inputs, self.compiled.outputs
        if len(inputs) != 1 or len(outputs) != 1:
            raise ConfigError(f"{self.path} has {len(inputs)} inputs and {len(outputs)} outputs; "
                              f"runners take models with one input and one output")
        element = inputs[0].get_element_type().get_type_name()
        if element not in _INPUT_TYPES:
            raise ConfigError(f"{self.path}: input type {element} is not float32 or float16")
        self.input_dtype = np.dtype(_INPUT_TYPES[element])
        # The input as OpenVINO read it (no second parse of the file): "?" for a dynamic dim.
        self.input_name = inputs[0].get_any_name()
        dims: list[int | str] = [d.get_length() if d.is_static else "?" for d in inputs[0].get_partial_shape()]
        self.declared = [(self.input_name, dims)]

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raise :class:`ShapeError` unless ``shape`` fits the graph's declared input dims."""
        validate_inputs(self.declared, {self.input_name: np.broadcast_to(np.uint8(0), shape)})

    def run(self, x: Any) -> np.ndarray:
        arr = to_numpy(x, self.input_dtype)
        self.check_shape(arr.shape)
        return np.array(self.request.infer({0: arr})[0])

    def prepare(self, shape: tuple[int, ...], x: np.ndarray | None = None) -> Step:
        import openvino as ov

        self.check_shape(shape)
        request = self.compiled.create_infer_request()
        request.set_input_tensor(ov.Tensor(self.timing_input(shape, x)))

        def step() -> None:
            request.infer(share_outputs=True)
        return step


def _int8_layers(compiled: Any) -> int:
    """How many executed layers (constants aside) compute in u8/i8: the evidence that int8 ran, since the
    inference precision reads ``f32`` (what the layers left in float compute in)."""
    layers = (op.get_rt_info() for op in compiled.get_runtime_model().get_ordered_ops())
    return sum(1 for info in layers if info["layerType"].astype(str) != "Const"
               and info["runtimePrecision"].astype(str) in ("u8", "i8"))


def _plain(value: Any) -> str | int | bool:
    """A property value as a report-ready scalar (``<Type: 'float32'>`` -> ``f32``, hints by name)."""
    if isinstance(value, (bool, int)):
        return value
    if hasattr(value, "get_type_name"):
        return str(value.get_type_name())
    return str(getattr(value, "name", value))
