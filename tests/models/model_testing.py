"""Helpers shared by the model tests (imported by name: tests/models is on sys.path under pytest)."""
from __future__ import annotations

import torch
from torch import nn


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def run(model: nn.Module, size: tuple[int, int] | None = None, batch: int = 1) -> torch.Tensor:
    """Eval-mode forward of a random batch at ``size`` (default: the model's nominal input size)."""
    h, w = size or model.input_size
    model.eval()
    with torch.inference_mode():
        return model(torch.randn(batch, model.in_channels, h, w))
