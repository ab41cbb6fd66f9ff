"""``torch-compile``: the module through ``torch.compile`` (TorchInductor), the strongest PyTorch baseline.

Compilation happens on the first call at each new input shape, so benchmarks must warm up at
every batch size before timing (the bench's warm-up rounds do this). Inductor's ``freezing``
is on by default: weights become constants of the compiled graph, so batch norms fold into
convolutions and the CPU convolutions run on weights packed once for oneDNN, as a
deployment's inference graph would (the runner only ever runs under ``torch.no_grad``).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from recalib.deploy.backends.torch_eager import TorchRunner
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.timing import Step
from recalib.errors import ConfigError

__all__ = ["TorchCompileRunner"]

_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class TorchCompileRunner(TorchRunner):
    """Like :class:`TorchRunner`, compiled with ``torch.compile(dynamic=False)`` in
    ``options.compile_mode``'s Inductor options (default ``default``), with ``options.freezing``
    (default on).

    ``compile_mode="reduce-overhead"`` on CUDA replays CUDA graphs, which removes per-kernel launch
    cost; ``dynamic=False`` gives each batch size its own specialised graph, as a deployment would.
    ``settings`` says what was compiled (``mode``, ``freezing``).
    """

    backend = "torch-compile"

    def __init__(self, module: nn.Module, *, device: str = "cpu", options: RunnerOptions = RunnerOptions()) -> None:
        mode = options.compile_mode or _MODES[0]
        if mode not in _MODES:
            raise ConfigError(f"torch.compile mode {mode!r} is not one of {', '.join(_MODES)}")
        self.mode, self.freezing = mode, options.freezing is not False
        self.settings = {"mode": mode, "freezing": self.freezing}
        super().__init__(module, device=device, options=options)

    def _build_forward(self, module: nn.Module) -> Any:
        return torch.compile(module, mode=self.mode, dynamic=False)

    def _compiling(self) -> Any:
        """Dynamo reads ``freezing`` from Inductor's global config when it traces (an ``options``
        entry is ignored), which happens at the first call at each shape: set it around those."""
        return torch._inductor.config.patch(freezing=self.freezing)

    def run(self, x: "np.ndarray | torch.Tensor") -> np.ndarray:
        with self._compiling():
            return super().run(x)

    def prepare(self, shape: tuple[int, ...], x: np.ndarray | None = None) -> Step:
        """The step, compiled for ``shape`` here, so the timed step itself runs outside the patch."""
        step = super().prepare(shape, x)
        with self._compiling():
            step()
        return step
