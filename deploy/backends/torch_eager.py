"""``torch-eager``: the PyTorch module as users would run it, the baseline for every runtime."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from torch import nn

from recalib.deploy.runner import Runner, random_input, to_numpy
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.timing import Step
from recalib.errors import ConfigError

__all__ = ["TorchRunner"]

_DTYPES = {"fp32": torch.float32, "fp16": torch.float16}


class TorchRunner(Runner):
    """Runs ``module`` in eval mode under ``torch.no_grad`` on ``device`` (``cpu`` or ``cuda``).

    ``options.threads`` sets torch's intra-op thread count for the whole process (torch has no
    per-module setting), which is why benchmarks run each runtime in its own worker process.
    ``options.precision="fp16"`` casts weights and inputs to half precision. The runner works on its
    own copy of ``module``: the caller's model keeps its weights, dtype, device and mode.
    """

    backend = "torch-eager"

    def __init__(self, module: nn.Module, *, device: str = "cpu", options: RunnerOptions = RunnerOptions()) -> None:
        if not isinstance(module, nn.Module):
            raise ConfigError(f"{self.backend} needs a torch.nn.Module, got {type(module).__name__}")
        precision = options.compute_precision
        if precision not in _DTYPES:
            raise ConfigError(f"precision {precision!r} is not one of {', '.join(_DTYPES)}")
        if options.threads is not None:
            torch.set_num_threads(options.threads)
        self.device = device
        self.dtype = _DTYPES[precision]
        self.input_dtype = np.dtype(np.float16 if precision == "fp16" else np.float32)
        self.module = copy.deepcopy(module).eval().to(device=device, dtype=self.dtype)
        self._forward = self._build_forward(self.module)

    def _build_forward(self, module: nn.Module) -> Any:
        """The callable timed and run; the compile backend overrides it."""
        return module

    def _call(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self._forward(x)

    def _sync(self) -> None:
        if self.device.startswith("cuda"):
            torch.cuda.synchronize(self.device)

    def run(self, x: "np.ndarray | torch.Tensor") -> np.ndarray:
        tensor = torch.as_tensor(to_numpy(x, np.float32)).to(self.device, self.dtype)
        out = self._call(tensor)
        return out.float().cpu().numpy()

    def prepare(self, shape: tuple[int, ...], x: np.ndarray | None = None) -> Step:
        bound = torch.from_numpy(random_input(shape) if x is None else self.timing_input(shape, x))
        on_device = bound.to(self.device, self.dtype)

        def step() -> None:
            self._call(on_device)
            self._sync()
        return step
