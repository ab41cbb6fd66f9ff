"""Squeeze-and-Excitation (Hu, Shen, Sun, "Squeeze-and-Excitation Networks", CVPR 2018), and the SE gates
that mobile networks build in, as options of the same block.

Official code: hujie-frank/SENet (Caffe). The excitation MLP is written once here,
:class:`ExciteMLP`; Gather-Excite's GE-θ⁺ reuses it (``gather_excite.py``), and the global
squeeze :func:`global_pool` is shared with GE-θ⁻'s global gather.

The native gates of EfficientNet, MobileNetV3 and RegNetY are this block with other options
(:class:`SqueezeExcite`), so they are counted, exported and audited like every block.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from recalib.blocks.common import check_choice, check_input, positive_int, reduced_channels, round_channels
from recalib.entries import BlockEntry
from recalib.errors import ConfigError

__all__ = ["Pool", "POOLS", "Activation", "Gate", "HiddenFrom", "global_pool", "ExciteMLP", "SqueezeExcite",
           "ENTRIES"]

Pool = Literal["avg", "max"]
POOLS: tuple[str, ...] = ("avg", "max")
Activation = Literal["relu", "silu"]
_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "silu": nn.SiLU}
Gate = Literal["sigmoid", "hard-sigmoid"]
_GATES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"sigmoid": torch.sigmoid, "hard-sigmoid": F.hardsigmoid}
HiddenFrom = Literal["channels", "unit-input"]
_HIDDEN_FROM: tuple[str, ...] = ("channels", "unit-input")


def global_pool(x: torch.Tensor, pool: Pool = "avg") -> torch.Tensor:
    """Squeeze ``(N, C, H, W) → (N, C, 1, 1)`` by global average (default) or max pooling.

    ``mean``/``amax`` over (2, 3) rather than adaptive pooling: each exports to a single
    ReduceMean/ReduceMax that works at every input size.
    """
    if pool == "avg":
        return x.mean((2, 3), keepdim=True)
    return x.amax((2, 3), keepdim=True)


class ExciteMLP(nn.Module):
    """The SE excitation MLP, without its gate: 1×1 conv C→h → activation → 1×1 conv h→C, with biases by default.

    This is g(z, W) = W₂·δ(W₁·z) of SE Eq. 3 (σ is applied by the caller; δ is ReLU in the SE
    paper, SiLU in EfficientNet). Shapes: ``(N, C, H, W) → (N, C, H, W)``; SE feeds it the
    ``(N, C, 1, 1)`` squeeze, GE-θ⁺ its gathered map (the 1×1 convs then act at every gathered
    location). The caller chooses the hidden width ``h`` (SE: ``⌊C/r⌋``).

    Parameters: ``2·C·h + h + C`` (``2·C·h`` with ``bias=False``). The official Caffe SE-ResNet-50
    uses 1×1 convolutions with bias for both FC layers; biases included, SE-ResNet-50 totals
    28,088,024 parameters (the FC weights alone are 2,514,944).
    """

    def __init__(self, channels: int, hidden: int, *, activation: Activation = "relu", bias: bool = True) -> None:
        super().__init__()
        self.channels, self.hidden, self.bias = channels, hidden, bias
        self.reduce = nn.Conv2d(channels, hidden, kernel_size=1, bias=bias)
        self.act = _ACTIVATIONS[check_choice(activation, tuple(_ACTIVATIONS), "activation", "excite MLP")]()
        self.expand = nn.Conv2d(hidden, channels, kernel_size=1, bias=bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.expand(self.act(self.reduce(z)))

    def formula_params(self) -> int:
        """``2·C·h + h + C`` (without the last two terms when ``bias=False``) from the hyperparameters."""
        return 2 * self.channels * self.hidden + (self.hidden + self.channels if self.bias else 0)


def _hidden_width(channels: int, reduction: int, hidden_from: str, unit_channels: int | None, round_to: int) -> int:
    """``⌊B/r⌋`` with B the gated channels or the unit's input channels, rounded to ``round_to`` if above 1."""
    check_choice(hidden_from, _HIDDEN_FROM, "hidden_from", "se")
    if hidden_from == "unit-input" and unit_channels is None:
        raise ConfigError("se: hidden_from='unit-input' takes the hidden width from the input channels of the "
                          "backbone unit that holds the gate, which this insertion point does not give; use "
                          "hidden_from='channels' (the SE paper's C/r)")
    base = channels if hidden_from == "channels" else positive_int(unit_channels, "unit_channels", "se")
    hidden = reduced_channels(base, reduction, name="se")
    return hidden if positive_int(round_to, "round_to", "se") == 1 else round_channels(hidden, round_to)


class SqueezeExcite(nn.Module):
    """Squeeze-and-Excitation block (SE paper, Eqs. 2–4): ``x̃ = x ⊙ σ(W₂·δ(W₁·squeeze(x)))``.

    Shapes: ``(N, C, H, W) → (N, C, H, W)``, any H, W. Steps: squeeze to ``(N, C, 1, 1)`` →
    :class:`ExciteMLP` (``C → h → C``, δ between) → gate σ → per-channel scale.

    Parameters: ``2·C·h + h + C`` with ``h = ⌊B/r⌋`` (r = ``reduction``, default 16 as in the paper
    and the official code; B = C, or the unit's input channels with ``hidden_from="unit-input"``),
    rounded to a multiple of ``round_to`` when that is above 1; ``2·C·h`` with ``bias=False``.

    Decisions:

    * Squeeze: global *average* pooling (``pool="avg"``, default), as in SE Eq. 2 and the
      official Caffe models. The explainer in ``papers/`` says "max pooling"; that is wrong
      for SE, so max pooling is only an option (``pool="max"``).
    * FC layers are 1×1 convolutions with bias, the official layout; this is what makes
      SE-ResNet-50 total 28,088,024 parameters. ``bias=False`` builds them without, as the
      CMPE-SE paper's official code (scut-aitcm/Competitive-Inner-Imaging-SENet: ``nn.Dense(...,
      use_bias=False)`` in its SE units) does for the SE networks it compares with.

    The options that express mobile networks' native gates (each backbone states its own):

    * ``activation``: δ, ``"relu"`` (SE) or ``"silu"`` (EfficientNet, Tan & Le 2019).
    * ``gate``: σ, ``"sigmoid"`` or ``"hard-sigmoid"`` (``relu6(x + 3) / 6``, MobileNetV3, Howard
      et al. 2019, Sec. 5.2; exports to one ONNX HardSigmoid).
    * ``hidden_from="unit-input"``: the hidden width is a ratio of the input channels of the
      backbone unit holding the gate (EfficientNet's MBConv input, RegNetY's block input ``w_in``),
      not of the gated (expanded) channels; the backbone gives those as ``unit_channels``.
      ``⌊B/r⌋`` is EfficientNet's ``int(B · 0.25)``; RegNetY rounds ``B · 0.25`` instead, the
      same for its widths (multiples of 8).
    * ``round_to``: MobileNetV3's rounding of ``⌊C/4⌋`` to the nearest multiple of 8, never 10%
      below it (:func:`recalib.blocks.common.round_channels`).
    """

    def __init__(self, channels: int, *, reduction: int = 16, pool: Pool = "avg", activation: Activation = "relu",
                 gate: Gate = "sigmoid", hidden_from: HiddenFrom = "channels", round_to: int = 1,
                 unit_channels: int | None = None, bias: bool = True) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ConfigError(f"se: pool must be one of {', '.join(POOLS)} (SE squeezes by global "
                              f"average pooling; 'max' is an option), got {pool!r}")
        self.channels, self.reduction, self.pool = channels, reduction, pool
        self.gate = check_choice(gate, tuple(_GATES), "gate", "se")
        check_choice(activation, tuple(_ACTIVATIONS), "activation", "se")
        self.mlp = ExciteMLP(channels, _hidden_width(channels, reduction, hidden_from, unit_channels, round_to),
                             activation=activation, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.channels, "se", self)
        return x * _GATES[self.gate](self.mlp(global_pool(x, self.pool)))

    def formula_params(self) -> int:
        """``2·C·h + h + C``: the excitation MLP is SE's only parameterised part."""
        return self.mlp.formula_params()

    def extra_repr(self) -> str:
        return (f"channels={self.channels}, reduction={self.reduction}, pool={self.pool!r}, hidden={self.mlp.hidden}, "
                f"activation={type(self.mlp.act).__name__}, gate={self.gate!r}, bias={self.mlp.bias}")


#: This family's registry entries (:data:`recalib.blocks.BLOCKS` adds them).
ENTRIES: tuple[BlockEntry, ...] = (
    BlockEntry("se", SqueezeExcite, paper="Hu, Shen, Sun. Squeeze-and-Excitation Networks. CVPR 2018",
               params="2*C*h + h + C, h = C//r (or the unit's input channels // r; rounded to round_to); "
                      "bias=False: 2*C*h",
               summary="global average (or max) squeeze -> 1x1 conv C->h (bias) -> ReLU (or SiLU) -> 1x1 conv "
                       "h->C (bias) -> sigmoid (or hard sigmoid) -> channel scale",
               alternatives={"no FC biases (CMPE-SE official code)": {"bias": False},
                             "efficientnet": {"activation": "silu", "reduction": 4},
                             "mobilenet-v3": {"gate": "hard-sigmoid", "reduction": 4, "round_to": 8}}),
)
