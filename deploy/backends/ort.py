"""``ort-cpu``, ``ort-cuda``, ``ort-tensorrt``: an ONNX file in onnxruntime with one execution provider.

Sessions are configured for honest timing: a fixed intra-op thread count, one inter-op thread,
and onnxruntime's default thread spinning *during* a run, stopped when the run returns
(``session.force_spinning_stop``). A benchmark alternates several sessions in one process:
without the stop, an idle session's spinning threads steal the cores of the session being
timed (here they doubled a ResNet-50's latency, 25 -> 54 ms); without spinning at all, every
small op pays a thread wake-up (ResNet-50 + SE, 2 threads: 28.0 ms and +27% overhead with
spinning off, 25.2 ms and +23% with spinning stopped at run end). ``spinning=False`` turns it
off entirely, for machines shared with other work.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from recalib.deploy.runner import Runner, random_input, to_numpy
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.timing import Step
from recalib.export.inputs import declared_inputs, validate_inputs
from recalib.errors import BackendUnavailable, ConfigError, first_line

__all__ = ["OrtRunner", "session_options", "provider_list", "optimized_graph", "node_times"]

_PROVIDER = {"ort-cpu": "CPUExecutionProvider", "ort-cuda": "CUDAExecutionProvider",
             "ort-tensorrt": "TensorrtExecutionProvider"}
_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}


def session_options(threads: int | None, spinning: bool = True,
                    optimized_model_path: str | Path | None = None) -> Any:
    """Session options with fixed threads; ``optimized_model_path`` saves ORT's optimised graph.

    ``spinning``: worker threads spin between the ops of a run (onnxruntime's default) and stop
    when it returns, so idle sessions leave the cores alone; ``False`` never spins.
    """
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or 0  # 0 = onnxruntime's default (one per physical core)
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    flag = "1" if spinning else "0"
    so.add_session_config_entry("session.intra_op.allow_spinning", flag)
    so.add_session_config_entry("session.inter_op.allow_spinning", flag)
    so.add_session_config_entry("session.force_spinning_stop", "1")
    if optimized_model_path is not None:
        so.optimized_model_filepath = str(optimized_model_path)
    return so


def optimized_graph(path: str | Path) -> Any:
    """onnxruntime CPU's optimised graph of ``path`` (``ORT_ENABLE_ALL``, NCHWc layout included).

    Saved beside the model as ``<stem>.ort.onnx`` and loaded back as an ``onnx.GraphProto``;
    its ``com.microsoft.nchwc`` nodes show which ops stay in the blocked layout.
    """
    import onnx
    import onnxruntime as ort

    saved = Path(path).with_suffix(".ort.onnx")
    options = session_options(1, optimized_model_path=saved)
    options.log_severity_level = 3  # the "hardware specific" warning about saving an NCHWc graph
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return onnx.load(str(saved)).graph


def node_times(path: str | Path, shape: tuple[int, ...], threads: int | None,
               runs: int = 10) -> dict[str, tuple[str, float]]:
    """onnxruntime CPU's time per node of its optimised graph (node name -> its kernel's op type, median ms
    per inference over ``runs`` profiled runs and one warm-up), from its profiler's ``<node>_kernel_time``
    events. A fused node takes its output's name (a convolution with its ReLU: ``relu_1_nchwc``, op
    ``Conv``): the op type says which kernel ran."""
    import json
    import tempfile

    import onnxruntime as ort

    from recalib.deploy.runner import random_input

    with tempfile.TemporaryDirectory(prefix="ort-profile-") as folder:
        options = session_options(threads)
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(folder) / "profile")
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        (feed,) = session.get_inputs()
        x = random_input(shape, np.dtype(_ONNX_DTYPES.get(feed.type, np.float32)))
        for _ in range(max(1, runs) + 1):  # the first is a warm-up: the median sets it aside
            session.run(None, {feed.name: x})
        events = json.loads(Path(session.end_profiling()).read_text())
    samples: dict[str, list[float]] = {}
    ops: dict[str, str] = {}
    for event in events:
        name = str(event.get("name", ""))
        if event.get("cat") == "Node" and name.endswith("_kernel_time"):
            node = name[: -len("_kernel_time")]
            samples.setdefault(node, []).append(float(event["dur"]) / 1e3)
            ops[node] = str(event.get("args", {}).get("op_name", ""))
    return {name: (ops[name], float(np.median(times))) for name, times in samples.items()}


def provider_list(backend: str, precision: str = "fp32", device_id: int = 0,
                  cache_dir: str | Path | None = None) -> list[Any]:
    """The providers for ``backend`` in priority order, CPU last as onnxruntime's fallback.

    ``precision`` was checked against the runtime by :func:`recalib.deploy.runner.create_runner`: the CPU and
    CUDA providers run the file's own types (int8: its QDQ pairs), the TensorRT provider is told fp16 or int8
    (int8 takes the QDQ graph's own scales: no calibration table is built).
    """
    cuda = ("CUDAExecutionProvider", {"device_id": device_id})
    if backend == "ort-cpu":
        return ["CPUExecutionProvider"]
    if backend == "ort-cuda":
        return [cuda, "CPUExecutionProvider"]
    trt_options: dict[str, Any] = {"device_id": device_id, "trt_fp16_enable": precision == "fp16",
                                   "trt_int8_enable": precision == "int8"}
    if cache_dir is not None:
        trt_options.update(trt_engine_cache_enable=True, trt_engine_cache_path=str(cache_dir),
                           trt_timing_cache_enable=True, trt_timing_cache_path=str(cache_dir))
    return [("TensorrtExecutionProvider", trt_options), cuda, "CPUExecutionProvider"]


class OrtRunner(Runner):
    """One onnxruntime session of ``path`` with the provider named by ``backend``, on the first GPU
    for the GPU providers; ``options`` give threads, spinning (default on), precision and the
    TensorRT provider's cache folder.

    On the GPU providers, ``prepare`` keeps input and output on the device through I/O binding,
    so the timed step is the inference, not host-device copies.
    """

    device_id = 0

    def __init__(self, path: str | Path, *, backend: str = "ort-cpu", device: str | None = None,
                 options: RunnerOptions = RunnerOptions()) -> None:
        import onnxruntime as ort

        if backend not in _PROVIDER:
            raise ConfigError(f"OrtRunner runs {', '.join(_PROVIDER)}, not {backend!r}")
        own = "cpu" if backend == "ort-cpu" else "cuda"
        if device not in (None, own):
            raise ConfigError(f"{backend} runs on {own}, not on {device!r}")
        self.backend, self.path, self.device = backend, Path(path), own
        providers = provider_list(backend, options.compute_precision, self.device_id, options.cache_dir)
        session = session_options(options.threads, options.spinning is not False)
        try:
            self.session = ort.InferenceSession(str(path), session, providers=providers)
        except Exception as exc:  # onnxruntime's own untyped errors (Fail, InvalidGraph, NotImplemented)
            raise ConfigError(f"onnxruntime cannot load {path}: {first_line(exc)}; check the file, or export it again "
                              f"with recalib export") from None
        self._check_provider()
        self._read_io()

    def _read_io(self) -> None:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ConfigError(f"{self.path} has {len(inputs)} inputs and {len(outputs)} outputs; "
                              f"runners take models with one input and one output")
        if inputs[0].type not in _ONNX_DTYPES:
            raise ConfigError(f"{self.path}: input type {inputs[0].type} is not float32 or float16")
        self.input_name, self.output_name = inputs[0].name, outputs[0].name
        self.input_dtype = np.dtype(_ONNX_DTYPES[inputs[0].type])
        self.declared = declared_inputs(self.session)

    def _check_provider(self) -> None:
        """onnxruntime silently falls back to CPU when a provider fails to start; refuse that."""
        wanted, active = _PROVIDER[self.backend], self.session.get_providers()
        if wanted not in active:
            raise BackendUnavailable(self.backend, f"onnxruntime did not start {wanted} (active: "
                                     f"{', '.join(active)}); its log above says why",
                                     "check the CUDA/cuDNN/TensorRT libraries match this onnxruntime build")

    def check_shape(self, shape: tuple[int, ...]) -> None:
        """Raise :class:`ShapeError` unless ``shape`` fits the graph's declared input dims."""
        # A zero-copy view of the right shape: only the shape is checked.
        validate_inputs(self.declared, {self.input_name: np.broadcast_to(np.uint8(0), shape)})

    def run(self, x: Any) -> np.ndarray:
        arr = to_numpy(x, self.input_dtype)
        self.check_shape(arr.shape)
        return np.asarray(self.session.run([self.output_name], {self.input_name: arr})[0])

    def prepare(self, shape: tuple[int, ...], given: np.ndarray | None = None) -> Step:
        self.check_shape(shape)
        x = self.timing_input(shape, given)
        if self.device == "cpu":
            feed, fetch = {self.input_name: x}, [self.output_name]

            def step() -> None:
                self.session.run(fetch, feed)
            return step
        return self._prepare_bound(x)

    def _prepare_bound(self, x: np.ndarray) -> Step:
        import onnxruntime as ort

        binding = self.session.io_binding()
        x_dev = ort.OrtValue.ortvalue_from_numpy(x, "cuda", self.device_id)
        binding.bind_ortvalue_input(self.input_name, x_dev)
        binding.bind_output(self.output_name, "cuda", self.device_id)
        # run_with_iobinding returns after the provider synchronises its stream (onnxruntime's
        # default run options), so the step is synchronous.
        return lambda: self.session.run_with_iobinding(binding)
