"""Squeeze-and-Excitation (Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018).

Official code: hujie-frank/SENet (Caffe). The excitation MLP is written once here,
:class:`ExciteMLP`; Gather-Excite's GE-θ⁺ reuses it (``gather_excite.py``), and the global
squeeze :func:`global_pool` is shared with GE-θ⁻'s global gather.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from recalib.blocks.common import check_input, reduced_channels
from recalib.entries import BlockEntry
from recalib.errors import ConfigError

__all__ = ["Pool", "POOLS", "global_pool", "ExciteMLP", "SqueezeExcite", "ENTRIES"]

Pool = Literal["avg", "max"]
POOLS: tuple[str, ...] = ("avg", "max")


def global_pool(x: torch.Tensor, pool: Pool = "avg") -> torch.Tensor:
    """Squeeze ``(N, C, H, W) → (N, C, 1, 1)`` by global average (default) or max pooling.

    ``mean``/``amax`` over (2, 3) rather than adaptive pooling: each exports to a single
    ReduceMean/ReduceMax that works at every input size.
    """
    if pool == "avg":
        return x.mean((2, 3), keepdim=True)
    return x.amax((2, 3), keepdim=True)


class ExciteMLP(nn.Module):
    """The SE excitation MLP, without its gate: 1×1 conv C→⌊C/r⌋ → ReLU → 1×1 conv ⌊C/r⌋→C, with biases by default.

    This is g(z, W) = W₂·δ(W₁·z) of SE Eq. 3 (σ is applied by the caller). Shapes:
    ``(N, C, H, W) → (N, C, H, W)``; SE feeds it the ``(N, C, 1, 1)`` squeeze, GE-θ⁺ its gathered
    map (the 1×1 convs then act at every gathered location).

    Parameters: ``2·C·⌊C/r⌋ + ⌊C/r⌋ + C`` (``2·C·⌊C/r⌋`` with ``bias=False``). The official Caffe
    SE-ResNet-50 uses 1×1 convolutions with bias for both FC layers; biases included, SE-ResNet-50
    totals 28,088,024 parameters (the FC weights alone are 2,514,944). Hidden width ``⌊C/r⌋`` as
    in the official code; ``C < r`` is rejected by :func:`reduced_channels`.
    """

    def __init__(self, channels: int, *, reduction: int = 16, bias: bool = True, name: str = "excite MLP") -> None:
        super().__init__()
        hidden = reduced_channels(channels, reduction, name=name)
        self.channels, self.reduction, self.bias = channels, reduction, bias
        self.reduce = nn.Conv2d(channels, hidden, kernel_size=1, bias=bias)
        self.act = nn.ReLU()
        self.expand = nn.Conv2d(hidden, channels, kernel_size=1, bias=bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.expand(self.act(self.reduce(z)))

    def formula_params(self) -> int:
        """``2·C·⌊C/r⌋ + ⌊C/r⌋ + C`` (without the last two terms when ``bias=False``) from the hyperparameters."""
        hidden = self.channels // self.reduction
        return 2 * self.channels * hidden + (hidden + self.channels if self.bias else 0)


class SqueezeExcite(nn.Module):
    """Squeeze-and-Excitation block (SE paper, Eqs. 2–4): ``x̃ = x ⊙ σ(W₂·δ(W₁·squeeze(x)))``.

    Shapes: ``(N, C, H, W) → (N, C, H, W)``, any H, W. Steps: squeeze to ``(N, C, 1, 1)`` →
    :class:`ExciteMLP` (``C → ⌊C/r⌋ → C``, ReLU between) → sigmoid → per-channel scale.

    Parameters: ``2·C·⌊C/r⌋ + ⌊C/r⌋ + C`` (r = ``reduction``, default 16 as in the paper and
    the official code); ``2·C·⌊C/r⌋`` with ``bias=False``.

    Decisions:

    * Squeeze: global *average* pooling (``pool="avg"``, default), as in SE Eq. 2 and the
      official Caffe models. The explainer in ``papers/`` says "max pooling"; that is wrong
      for SE, so max pooling is only an option (``pool="max"``).
    * FC layers are 1×1 convolutions with bias, the official layout; this is what makes
      SE-ResNet-50 total 28,088,024 parameters. ``bias=False`` builds them without, as the
      CMPE-SE paper's official code (scut-aitcm/Competitive-Inner-Imaging-SENet: ``nn.Dense(...,
      use_bias=False)`` in its SE units) does for the SE networks it compares with.
    """

    def __init__(self, channels: int, *, reduction: int = 16, pool: Pool = "avg", bias: bool = True) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ConfigError(f"se: pool must be one of {', '.join(POOLS)} (SE squeezes by global "
                              f"average pooling; 'max' is an option), got {pool!r}")
        self.channels, self.reduction, self.pool = channels, reduction, pool
        self.mlp = ExciteMLP(channels, reduction=reduction, bias=bias, name="se")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.channels, "se", self)
        return x * torch.sigmoid(self.mlp(global_pool(x, self.pool)))

    def formula_params(self) -> int:
        """``2·C·⌊C/r⌋ + ⌊C/r⌋ + C``: the excitation MLP is SE's only parameterised part."""
        return self.mlp.formula_params()

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}, pool={self.pool!r}, bias={self.mlp.bias}"


#: This family's registry entries (:data:`recalib.blocks.BLOCKS` adds them).
ENTRIES: tuple[BlockEntry, ...] = (
    BlockEntry("se", SqueezeExcite, paper="Hu, Shen, Sun. Squeeze-and-Excitation Networks. CVPR 2018",
               params="2*C*(C//r) + C//r + C (bias=False: 2*C*(C//r))",
               summary="global average (or max) squeeze -> 1x1 conv C->C/r (bias) -> ReLU -> 1x1 conv C/r->C "
                       "(bias) -> sigmoid -> channel scale",
               alternatives={"no FC biases (CMPE-SE official code)": {"bias": False}}),
)
