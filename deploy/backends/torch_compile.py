"""``torch-compile``: the module through ``torch.compile`` (TorchInductor), the strongest PyTorch baseline.

Compilation happens on the first call at each new input shape, so benchmarks must warm up at
every batch size before timing (the bench's warm-up rounds do this).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from deploy.backends.torch_eager import TorchRunner
from recalib.errors import ConfigError

__all__ = ["TorchCompileRunner"]

_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


class TorchCompileRunner(TorchRunner):
    """Like :class:`TorchRunner`, compiled with ``torch.compile(mode=mode, dynamic=False)``.

    ``mode="reduce-overhead"`` on CUDA replays CUDA graphs, which removes per-kernel launch cost;
    ``dynamic=False`` gives each batch size its own specialised graph, as a deployment would.
    """

    backend = "torch-compile"

    def __init__(self, module: nn.Module, *, device: str = "cpu", threads: int | None = None,
                 precision: str = "fp32", mode: str = "default") -> None:
        if mode not in _MODES:
            raise ConfigError(f"torch.compile mode {mode!r} is not one of {', '.join(_MODES)}")
        self.mode = mode
        super().__init__(module, device=device, threads=threads, precision=precision)

    def _build_forward(self, module: nn.Module) -> Any:
        return torch.compile(module, mode=self.mode, dynamic=False)
