"""Run a TensorRT engine on CUDA buffers owned by torch (``execute_async_v3`` on a torch stream).

Needs TensorRT, torch with CUDA, and a GPU; import only after
``deploy.availability.require("tensorrt")``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorrt as trt
import torch

from recalib.deploy.backends.tensorrt.engine_file import EngineFileError, EngineMeta
from recalib.deploy.runner import Runner, random_input, to_numpy
from recalib.deploy.timing import Step
from recalib.errors import BenchmarkError, ConfigError, ShapeError

__all__ = ["TensorRTRunner"]

_TORCH_DTYPES = {"FLOAT": torch.float32, "HALF": torch.float16, "BF16": torch.bfloat16,
                 "INT32": torch.int32, "INT64": torch.int64, "BOOL": torch.bool}


def _io_names(engine: trt.ICudaEngine) -> tuple[list[str], list[str]]:
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
    return inputs, outputs


class TensorRTRunner(Runner):
    """One deserialized engine with one execution context and its own CUDA stream.

    The context holds one binding at a time: a ``prepare`` (or ``run``) rebinds it, so time the
    step of the latest ``prepare`` only.
    """

    backend = "tensorrt"

    def __init__(self, meta: EngineMeta, plan: bytes, *, device: str = "cuda") -> None:
        from recalib.deploy.backends.tensorrt.build import make_logger

        self.meta, self.device = meta, device
        self._logger = make_logger()
        self._runtime = trt.Runtime(self._logger)
        self.engine = self._runtime.deserialize_cuda_engine(plan)
        if self.engine is None:
            raise EngineFileError("TensorRT could not deserialize the engine plan (see its log above); "
                                  "rebuild the engine from the ONNX file")
        self.context = self.engine.create_execution_context()
        inputs, outputs = _io_names(self.engine)
        if len(inputs) != 1 or len(outputs) != 1:
            raise ConfigError(f"the engine has {len(inputs)} inputs and {len(outputs)} outputs; "
                              f"runners take models with one input and one output")
        self.input_name, self.output_name = inputs[0], outputs[0]
        self.input_dtype = np.dtype(meta.input_dtype)
        self._torch_input = self._torch_dtype(self.input_name)
        self._torch_output = self._torch_dtype(self.output_name)
        self.stream = torch.cuda.Stream(device=device)

    def _torch_dtype(self, name: str) -> Any:
        kind = self.engine.get_tensor_dtype(name).name
        if kind not in _TORCH_DTYPES:
            raise ConfigError(f"engine tensor {name} has type {kind}, which this runner cannot allocate")
        return _TORCH_DTYPES[kind]

    def _bind(self, x: torch.Tensor) -> torch.Tensor:
        """Point the context at ``x`` and a fresh output tensor; returns the output."""
        shape = tuple(x.shape)
        if not self.meta.accepts(shape):
            raise ShapeError(f"input shape {shape} is outside the engine's profile "
                             f"{self.meta.min_shape}..{self.meta.max_shape}; rebuild it for this shape")
        if not self.context.set_input_shape(self.input_name, shape):
            raise ShapeError(f"TensorRT refused input shape {shape} for {self.input_name}")
        dims = self.context.get_tensor_shape(self.output_name)
        out_shape = tuple(dims[i] for i in range(len(dims)))
        out = torch.empty(out_shape, dtype=self._torch_output, device=self.device)
        self.context.set_tensor_address(self.input_name, x.data_ptr())
        self.context.set_tensor_address(self.output_name, out.data_ptr())
        # x was written on torch's current stream; the engine runs on ours.
        torch.cuda.current_stream(self.device).synchronize()
        return out

    def _execute(self) -> None:
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise BenchmarkError("TensorRT's execute_async_v3 failed (see its log above)")
        self.stream.synchronize()

    def _device_input(self, x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(x)).to(self.device, self._torch_input)

    def run(self, x: Any) -> np.ndarray:
        tensor = self._device_input(to_numpy(x, np.float32))
        out = self._bind(tensor)
        self._bound = (tensor, out)
        self._execute()
        return out.float().cpu().numpy()

    def prepare(self, shape: tuple[int, ...], x: np.ndarray | None = None) -> Step:
        tensor = self._device_input(random_input(shape) if x is None else self.timing_input(shape, x))
        # The context keeps only raw addresses: hold the tensors as long as the binding lasts.
        self._bound = (tensor, self._bind(tensor))
        return self._execute
