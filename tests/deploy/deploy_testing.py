"""Tiny models and their ONNX files for the deploy tests (kept small: CI has 2 cores)."""
from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

INPUT_CHW = (3, 16, 16)
Models = dict[str, tuple[nn.Module, Path]]
"""The session's tiny models by label: ``(module, exported ONNX file)``."""


def pytorch_output(module: nn.Module, x: np.ndarray) -> np.ndarray:
    """``module``'s output for ``x``, as numpy (the reference a runtime is compared with)."""
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


def tiny_net(extra: bool = False) -> nn.Module:
    """Conv-BN-ReLU, an SE-like gate when ``extra``, pooling and a linear head."""
    torch.manual_seed(1 if extra else 0)
    body: list[nn.Module] = [nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()]
    if extra:
        body += [nn.Conv2d(8, 8, 3, padding=1), nn.Sigmoid()]
    return nn.Sequential(*body, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()


def export_dynamic_batch(module: nn.Module, path: Path) -> Path:
    """Plain ``torch.onnx.export`` (dynamo) with a symbolic batch; quiet."""
    batch = torch.export.Dim("batch", min=1, max=64)
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, (torch.randn(2, *INPUT_CHW),), str(path), dynamo=True,
                          external_data=False, input_names=["input"], output_names=["output"],
                          dynamic_shapes=({0: batch},))
    return path
