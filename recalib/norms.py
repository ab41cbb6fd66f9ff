"""Batch norms as folding and calibration see them: PyTorch's, their subclasses, and frozen look-alikes.

Others' networks normalise with more than ``nn.BatchNorm2d``: timm's ``BatchNormAct2d`` is a
subclass that also applies an activation (and a dropout) after normalising, and timm's and
torchvision's ``FrozenBatchNorm2d`` hold the same four tensors as buffers without subclassing
anything. :func:`norm_parts` reads the statistics and affine of any of them; :func:`norm_tail`
decides, by running the module, whether it is exactly "batch norm, then its submodules in
order" (PyTorch's own: no submodules), which is what lets folding replace it by its submodules
and keep every behaviour it had. Anything else is left alone.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["NormParts", "norm_parts", "norm_tail", "is_fresh"]

# Float64 agreement that means "the same function" (rounding only).
_SAME = 1e-9


@dataclass(frozen=True)
class NormParts:
    """A batch norm's inference parameters: ``y = (x - mean) / sqrt(var + eps) * weight + bias``."""

    mean: torch.Tensor
    var: torch.Tensor
    weight: torch.Tensor | None
    bias: torch.Tensor | None
    eps: float

    def apply(self, x: torch.Tensor) -> torch.Tensor:
        """The inference batch norm of ``x`` (N, C, …)."""
        return F.batch_norm(x, self.mean, self.var, self.weight, self.bias, False, 0.0, self.eps)


def norm_parts(module: nn.Module) -> NormParts | None:
    """The parts of a batch norm (PyTorch's with running statistics, or one holding ``running_mean``,
    ``running_var`` and ``eps`` like timm's frozen norm); None for anything else."""
    mean, var = getattr(module, "running_mean", None), getattr(module, "running_var", None)
    eps = getattr(module, "eps", None)
    if not (isinstance(mean, torch.Tensor) and isinstance(var, torch.Tensor) and isinstance(eps, float)):
        return None
    if mean.dim() != 1 or var.shape != mean.shape:
        return None
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    return NormParts(mean, var, weight if isinstance(weight, torch.Tensor) else None,
                     bias if isinstance(bias, torch.Tensor) else None, eps)


def is_fresh(parts: NormParts) -> bool:
    """Whether the statistics are the initial ones (mean 0, variance 1): never set from data."""
    return bool(torch.all(parts.mean == 0)) and bool(torch.all(parts.var == 1))


def norm_tail(module: nn.Module) -> list[nn.Module] | None:
    """The submodules that follow normalisation in ``module`` (``[]`` for a plain batch norm), if in eval
    mode it computes exactly ``tail(batch_norm(x))``; None if it does something else (or is no norm).

    Decided by running it: a float64 copy on a random ``(2, C, 3, 3)`` input against the batch norm of
    its own parameters followed by its submodules in registration order.
    """
    if norm_parts(module) is None:
        return None
    tail = list(module.children())
    twin = copy.deepcopy(module).double().eval()
    parts = norm_parts(twin)
    assert parts is not None
    x = torch.randn(2, parts.mean.numel(), 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad():
            got = twin(x)
            expected = nn.Sequential(*twin.children())(parts.apply(x))
    except Exception:  # a module that does not take such an input is not one we can reason about
        return None
    if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
        return None
    scale = max(float(expected.abs().max()), 1.0)
    return tail if float((got - expected).abs().max()) <= _SAME * scale else None
