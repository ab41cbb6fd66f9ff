"""Contextual Convolution blocks (CC-blocks): spatial excitation from a few coefficients per channel.

Paper: David Marwood & Shumeet Baluja, "Contextual Convolution Blocks", BMVC 2021. No official
code exists; the paper is the spec and its Table 3 parameter counts settle the ambiguities.

Equation 1: ``CC-block(X) = S(X) × X`` with ``S = EMP ∘ MIX ∘ CH``. The input is nearest-
downsampled to an 11×11 *context grid* (a side already ≤ 11 is kept), CH is two per-channel
fully-connected hidden layers, MIX is one fully-connected layer across all channels producing
``|P| = |P_c|·C`` coefficients, the coefficients are squashed by ``tanh(P)/2 + 1`` into
(0.5, 1.5) (Section 3; ``coefficient_range="-1..1"`` is the other range it reports trying,
``tanh(P)``), and an EMP (:mod:`recalib.blocks.emp`) renders each channel's ``|P_c| = 4``
coefficients as an ``H×W`` map.

Registered variants (Section 3's experiments, Figure 6's ablation, Section 2.1):

==================  ==============================  ===========================================
name                coefficient network             parameters (g = grid cells, h = hidden)
==================  ==============================  ===========================================
cc-full             CH (g→h→h) + MIX (C·h → 4C)     C·h(g+1) + C·h(h+1) + 4C(C·h+1)
cc-no-mix           CH (g→h→4), per channel         C·h(g+1) + 4C(h+1)
cc-no-ch            MIX over the grid (C·g → 4C)    4C(C·g+1)
cc-reduced          per channel g → 4               4C(g+1)
cc-scalar           per channel g → 1 (|P_c| = 1)   C(g+1)
cc-full-scalar      CH + MIX (C·h → C), |P_c| = 1   C·h(g+1) + C·h(h+1) + C(C·h+1)
cc-static           learned P, map constant         4C
cc-static-scalar    learned per-channel scalar      C
==================  ==============================  ===========================================

Parameter evidence (Table 3, CIFAR-100 net of Table 1 with first width 32: two 3×3 'same'
convs per stage at 32/16/8/4 px, widths 32/64/128/256, FC(128) and FC(100) heads):

- Plain network: 1,316,356 parameters. Input-independent CC-block after each of the 8 convs
  adds 4·960 = 3,840 → 1,320,196 ("1.3M" for bilinear, Gaussian and sine alike ✓: every EMP
  takes 4 coefficients).
- CC-block (bilinear), 1.5M: a per-channel g→4 layer with *unshared* weights and a bias, with
  g = min(H,11)·min(W,11) (121, 121, 64, 16 cells per stage), adds 195,072 → 1,511,428 ✓.
  Weights shared across channels would add 2,608 (→ 1.3M ✗); always resizing to 11×11 (also
  upsampling the 8×8 and 4×4 maps) would give 1,784,836 ("1.8M" ✗). Without biases it is
  1,507,588, also 1.5M: Table 3 cannot tell, so the dense-layer default (bias) is kept.
- Any variant with MIX carries at least 4C² weights per block: cc-full with h = 4 totals
  4,319,748 and cc-no-ch 23,053,572, so Table 3's "CC-block" is the reduced (or no-mix:
  1,530,628) form.
- CH's hidden width is not given anywhere; ``hidden=4`` (= |P_c|) is the default because the
  paper stresses "just a few coefficients" and says "many of the extra network weights are
  devoted to MIX", which holds for C ≥ 32 with h = 4 (at C = 32, g = 121: MIX 16,512 vs CH
  16,256). It is an option, and the formula above is exact for any ``hidden``.
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from recalib.blocks.common import as_pair, check_channels, check_feat_size, check_input, positive_int
from recalib.blocks.emp import DEFAULT_READING, check_emp, check_reading, excitation_map
from recalib.entries import BlockEntry
from recalib.errors import ConfigError, ShapeError, UnknownNameError

__all__ = ["ContextualConv", "StaticContextualConv", "StaticChannelScale", "squash", "COEFFICIENT_RANGES", "ENTRIES"]

PAPER = "Marwood & Baluja, Contextual Convolution Blocks, BMVC 2021"
GRID_SIZE = 11
HIDDEN = 4
_EMP_COEFFICIENTS = 4


# coefficient range: (scale, offset) of P = scale·tanh(·) + offset
COEFFICIENT_RANGES: dict[str, tuple[float, float]] = {"0.5..1.5": (0.5, 1.0), "-1..1": (1.0, 0.0)}
DEFAULT_RANGE = "0.5..1.5"


def squash(p: torch.Tensor, coefficient_range: str = DEFAULT_RANGE) -> torch.Tensor:
    """``tanh(P)/2 + 1``: coefficients in (0.5, 1.5), centred on the pass-through gate 1.0 (Section 3).

    ``coefficient_range="-1..1"``: ``tanh(P)``, the other range Section 3 reports ("Other ranges
    were tried, including {−1...1}; … this range [0.5 … 1.5] performed best").
    """
    scale, offset = COEFFICIENT_RANGES[coefficient_range]
    t = torch.tanh(p)
    return t if offset == 0 and scale == 1 else t * scale + offset


def _coefficient_net(channels: int, grid: tuple[int, int], *, ch: bool, mix: bool,
                     hidden: int, k: int) -> nn.Sequential:
    """Downsampled ``(N, C, gh, gw)`` → raw coefficients ``(N, C·k, 1, 1)``, channel-major.

    A per-channel fully-connected layer over the grid is a ``groups=C`` conv whose kernel is
    the grid; per-channel layers after it are ``groups=C`` 1×1 convs; MIX is a dense 1×1
    conv (or a dense grid-sized conv when there is no CH). Standard Conv nodes only.
    """
    c = channels
    if not ch:
        project = nn.Conv2d(c, c * k, grid, groups=1 if mix else c)
        return nn.Sequential(OrderedDict(mix=project) if mix else OrderedDict(project=project))
    layers: OrderedDict[str, nn.Module] = OrderedDict(ch1=nn.Conv2d(c, c * hidden, grid, groups=c),
                                                      act1=nn.ReLU())
    if not mix:
        layers["ch2"] = nn.Conv2d(c * hidden, c * k, 1, groups=c)
        return nn.Sequential(layers)
    layers["ch2"] = nn.Conv2d(c * hidden, c * hidden, 1, groups=c)
    layers["act2"] = nn.ReLU()
    layers["mix"] = nn.Conv2d(c * hidden, c * k, 1)
    return nn.Sequential(layers)


class ContextualConv(nn.Module):
    """Input-dependent CC-block, ``y = S(x) ⊙ x`` (paper eq. 1; variants ``cc-full`` … ``cc-full-scalar``).

    Shapes: ``x`` is ``(N, C, H, W)``; the context grid is ``(gh, gw) = (min(H, D), min(W, D))``
    with ``D = grid_size`` (11 in the paper); raw coefficients ``(N, C, k)``; the gate is
    ``(N, C, H, W)`` (``k = 4``, rendered by the EMP) or ``(N, C, 1, 1)`` (``k = 1``); output
    ``(N, C, H, W)``.

    Options: ``ch`` / ``mix`` switch CH and MIX (Figure 6 ablation); ``coefficients`` is
    ``|P_c|`` (4, or 1 for the Scalar Recalibration of Figure 1 #2, which has no EMP);
    ``emp`` picks the EMP (default bilinear; Table 3 tries the others) and ``emp_coordinates``
    the reading of Table 2's x (:mod:`recalib.blocks.emp`: ``"centred"``, default, or
    ``"unit"``); ``coefficient_range`` is ``"0.5..1.5"`` (default, Section 3) or ``"-1..1"``
    (the other range Section 3 reports; not with the Gaussian EMP, whose σ would reach 0);
    ``hidden`` is CH's width (default 4; only with CH); ``feat_size`` is the feature-map size;
    ``grid_size`` the downsample target ("other sizes yielded similar findings").

    "Scalar Recalibration" (Section 3, experiment 2: ``|P_c| = 1``, "mimics the SE-block") is
    read two ways: ``cc-scalar`` is the reduced block with one coefficient (no CH, no MIX),
    ``cc-full-scalar`` CC-block-Full with one coefficient (CH and MIX, like SE's squeeze and
    excitation), of which experiment 3 is "a direct extension".

    Parameters, ``g = gh·gw``, ``h = hidden``, ``k = coefficients``:
    CH+MIX ``C·h(g+1) + C·h(h+1) + k·C(C·h+1)``; CH only ``C·h(g+1) + k·C(h+1)``;
    MIX only ``k·C(C·g+1)``; neither ``k·C(g+1)``. Every layer has a bias.

    Readings (evidence in the module docstring): per-channel layers have unshared weights
    (Table 3: 1.5M, not 1.3M); CH is ``g → h → ReLU → ·``, with ReLU after its second layer
    only when it feeds MIX (a "hidden layer"); without MIX its second layer emits ``P_c``
    directly ("each CH_c directly produces the inputs to the EMP"); the squash is the only
    nonlinearity after the last layer. Nearest resize samples ``floor(i·H/gh)`` (PyTorch
    ``mode="nearest"``, ONNX Resize with explicit sizes).

    Size: the parameter count depends on the grid, so a side smaller than ``D`` must be known
    at construction: pass ``feat_size``. Without it the block assumes both sides ≥ ``D``. It
    runs at any size that reduces to the grid it was built for, else raises ShapeError.
    """

    def __init__(self, channels: int, *, ch: bool = True, mix: bool = True, coefficients: int = 4,
                 emp: str | None = None, emp_coordinates: str | None = None,
                 coefficient_range: str = DEFAULT_RANGE, hidden: int | None = None,
                 feat_size: int | tuple[int, int] | None = None, grid_size: int = GRID_SIZE) -> None:
        super().__init__()
        check_channels(channels, type(self).__name__)
        self.channels, self.ch, self.mix = channels, bool(ch), bool(mix)
        self.k = self._check_coefficients(coefficients)
        self.label = self._variant_name()
        self.emp, self.reading = self._check_emp(emp, emp_coordinates)
        self.coefficient_range = self._check_range(coefficient_range)
        self.hidden = self._check_hidden(hidden)
        self.grid_size = positive_int(grid_size, "grid_size", self.label)
        self.feat_size = None if feat_size is None else as_pair(feat_size, f"{self.label}: feat_size")
        side = self.feat_size or (self.grid_size, self.grid_size)
        self.grid = (min(side[0], self.grid_size), min(side[1], self.grid_size))
        self.net = _coefficient_net(channels, self.grid, ch=self.ch, mix=self.mix,
                                    hidden=self.hidden, k=self.k)

    def _check_coefficients(self, coefficients: int) -> int:
        if coefficients not in (1, _EMP_COEFFICIENTS):
            raise ConfigError(f"{type(self).__name__}: coefficients (|P_c|) must be 4 (spatial map via "
                              f"an EMP) or 1 (per-channel scalar), got {coefficients!r}")
        return coefficients

    def _check_emp(self, emp: str | None, reading: str | None) -> tuple[str | None, str | None]:
        """The EMP and the reading of its x; neither applies to the scalar form."""
        if self.k == _EMP_COEFFICIENTS:
            return check_emp(emp or "bilinear"), check_reading(reading or DEFAULT_READING)
        given = ", ".join(f"{k}={v!r}" for k, v in (("emp", emp), ("emp_coordinates", reading)) if v is not None)
        if given:
            raise ConfigError(f"{self.label}: {given} does not apply to the scalar form (|P_c| = 1 "
                              f"has no excitation map); drop it or use a 4-coefficient variant")
        return None, None

    def _check_range(self, coefficient_range: str) -> str:
        if coefficient_range not in COEFFICIENT_RANGES:
            raise UnknownNameError("CC coefficient range", str(coefficient_range), list(COEFFICIENT_RANGES))
        if self.emp == "gaussian" and COEFFICIENT_RANGES[coefficient_range][1] <= 0:
            raise ConfigError(f"{self.label}: the Gaussian EMP divides by its σ coefficient, which the "
                              f"{coefficient_range} range lets reach 0; use coefficient_range="
                              f"{DEFAULT_RANGE!r} or the bilinear or sine EMP")
        return coefficient_range

    def _variant_name(self) -> str:
        """The registered name these options build (for error messages), else the class name."""
        options = dict(ch=self.ch, mix=self.mix, coefficients=self.k)
        return next((name for name, (fixed, _, _) in _VARIANTS.items() if fixed == options),
                    type(self).__name__)

    def _check_hidden(self, hidden: int | None) -> int:
        if not self.ch:
            if hidden is not None:
                raise ConfigError(f"{self.label}: hidden={hidden!r} sizes the CH layers, but this "
                                  f"variant has no CH; drop hidden or use cc-full / cc-no-mix")
            return 0
        return HIDDEN if hidden is None else positive_int(hidden, "hidden", self.label)

    def downsample(self, x: torch.Tensor) -> torch.Tensor:
        """Nearest resize of ``(N, C, H, W)`` to the context grid; a side already ≤ D is kept."""
        if tuple(x.shape[-2:]) == self.grid:
            return x
        return F.interpolate(x, size=self.grid, mode="nearest")

    def _check_size(self, x: torch.Tensor) -> None:
        height, width = x.shape[-2], x.shape[-1]
        reduced = (min(height, self.grid_size), min(width, self.grid_size))
        if reduced != self.grid:
            built = (f"feat_size={self.feat_size}" if self.feat_size
                     else f"no feat_size, so sides >= {self.grid_size}")
            raise ShapeError(
                f"{self.label} was built for a {self.grid[0]}x{self.grid[1]} context grid "
                f"({built}) but a {height}x{width} input reduces to "
                f"{reduced[0]}x{reduced[1]}; rebuild it with feat_size=({height}, {width})")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.channels, self.label, self)
        self._check_size(x)
        p = squash(self.net(self.downsample(x)), self.coefficient_range).reshape(-1, self.channels, self.k)
        if self.emp is None:
            return x * p.unsqueeze(-1)
        return x * excitation_map(self.emp, p, (x.shape[-2], x.shape[-1]), str(self.reading))

    def formula_params(self) -> int:
        """The docstring's formula, from the hyperparameters."""
        c, k, h, g = self.channels, self.k, self.hidden, self.grid[0] * self.grid[1]
        if not self.ch:
            return k * c * ((c if self.mix else 1) * g + 1)
        if not self.mix:
            return c * h * (g + 1) + k * c * (h + 1)
        return c * h * (g + 1) + c * h * (h + 1) + k * c * (c * h + 1)

    def extra_repr(self) -> str:
        return (f"{self.channels}, variant={self.label!r}, ch={self.ch}, mix={self.mix}, coefficients={self.k}, "
                f"emp={self.emp}, emp_coordinates={self.reading}, coefficient_range={self.coefficient_range}, "
                f"hidden={self.hidden or None}, grid={self.grid}")


class _StaticGate(nn.Module):
    """Input-independent gate: ``y = x ⊙ constant_gate()``, identical in train and eval mode."""

    channels: int

    def constant_gate(self) -> torch.Tensor:
        raise NotImplementedError

    def _check_size(self, x: torch.Tensor) -> None:
        """Subclasses whose gate has a spatial size check it here."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.channels, type(self).__name__, self)
        self._check_size(x)
        return x * self.constant_gate()


class StaticContextualConv(_StaticGate):
    """Input-independent CC-block (Section 2.1, Figure 3; ``cc-static``): ``y = EMP(P) ⊙ x``.

    ``P`` is learned directly (no CH, no MIX, no dependence on ``x``): ``θ`` of shape ``(C, 4)``
    with coefficients ``P = tanh(θ)/2 + 1``, initialised at ``θ = 0`` (``P = 1``; the bilinear
    map is then the identity gate, the sine map averages exactly 1 over the map, the Gaussian
    map is 1.91 … 2.25: :mod:`recalib.blocks.emp`). ``emp_coordinates`` is the reading of
    Table 2's x (``"centred"``, default, or ``"unit"``). Shapes: ``x`` ``(N, C, H, W)`` with
    ``(H, W) = feat_size`` (ShapeError otherwise); gate ``(C, H, W)``. Parameters: ``4C``.

    The squash: Section 3 names it for input-dependent blocks, but Section 3.1.2 says the
    Table 3 runs — input-independent bilinear, Gaussian and sine — "were offset to force the
    coefficients into the range {0.5 … 1.5}", so it applies here too (same parameter count);
    the {−1 … 1} range is an option of the input-dependent blocks only, where Section 3 tried it.

    Export folding: ``constant_gate()`` returns the ``(C, H, W)`` map; in eval (and train)
    mode ``forward(x) == x * constant_gate()``, so ``recalib.fold`` may store it as a buffer.
    """

    def __init__(self, channels: int, *, feat_size: int | tuple[int, int] | None = None,
                 emp: str = "bilinear", emp_coordinates: str = DEFAULT_READING) -> None:
        super().__init__()
        check_channels(channels, "cc-static")
        if feat_size is None:
            raise ConfigError("cc-static renders a constant HxW excitation map, so it needs the "
                              "feature-map size: pass feat_size=(H, W)")
        self.channels = channels
        self.feat_size = as_pair(feat_size, "cc-static: feat_size")
        self.emp, self.reading = check_emp(emp), check_reading(emp_coordinates)
        self.theta = nn.Parameter(torch.zeros(channels, _EMP_COEFFICIENTS))

    def constant_gate(self) -> torch.Tensor:
        """The excitation map ``(C, H, W)``; ``forward(x) == x * constant_gate()``."""
        return excitation_map(self.emp, squash(self.theta), self.feat_size, self.reading)

    def _check_size(self, x: torch.Tensor) -> None:
        check_feat_size(x, self.feat_size, "cc-static")

    def formula_params(self) -> int:
        """``4C``: four learned coefficients per channel."""
        return _EMP_COEFFICIENTS * self.channels

    def extra_repr(self) -> str:
        return f"{self.channels}, feat_size={self.feat_size}, emp={self.emp}, emp_coordinates={self.reading}"


class StaticChannelScale(_StaticGate):
    """Static per-channel weighting, the input-independent ``|P_c| = 1`` form (``cc-static-scalar``).

    Section 3: "we replaced spatial recalibrations with the simple scalar recalibrations …
    (|P_c| = 1) – e.g. a *static* per channel weighting". ``y = s ⊙ x`` with
    ``s = tanh(θ)/2 + 1``, ``θ`` of shape ``(C,)``, initialised to 0 (identity).
    Shapes: ``x`` ``(N, C, H, W)`` at any size; gate ``(C, 1, 1)``. Parameters: ``C``.

    A separate name rather than a ``cc-static`` option because it needs no feature-map size
    (registered with ``needs_feat_size=False``), takes no EMP, and folds differently: its
    ``constant_gate()`` is ``(C, 1, 1)``, a per-channel scale that ``recalib.fold`` can merge
    into the preceding conv/BN. ``forward(x) == x * constant_gate()`` in eval and train mode.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        check_channels(channels, "cc-static-scalar")
        self.channels = channels
        self.theta = nn.Parameter(torch.zeros(channels))

    def constant_gate(self) -> torch.Tensor:
        """The per-channel scale ``(C, 1, 1)``; ``forward(x) == x * constant_gate()``."""
        return squash(self.theta).reshape(self.channels, 1, 1)

    def formula_params(self) -> int:
        """``C``: one learned scalar per channel."""
        return self.channels

    def extra_repr(self) -> str:
        return f"{self.channels}"


_GRID = "g = min(H,11)*min(W,11) (121 without feat_size)"
_CH = "h = hidden (4), " + _GRID
# name: (fixed options, parameter formula, summary)
_VARIANTS = {
    "cc-full": (dict(ch=True, mix=True, coefficients=4), f"C*h*(g+1) + C*h*(h+1) + 4C*(C*h+1); {_CH}",
                "CH (two per-channel layers) + MIX (FC over all channels) -> 4 coefficients/channel -> EMP"),
    "cc-no-mix": (dict(ch=True, mix=False, coefficients=4), f"C*h*(g+1) + 4C*(h+1); {_CH}",
                  "ablation: CH only, each channel predicts its own 4 coefficients"),
    "cc-no-ch": (dict(ch=False, mix=True, coefficients=4), f"4C*(C*g+1); {_GRID}",
                 "ablation: MIX directly over the downsampled channels"),
    "cc-reduced": (dict(ch=False, mix=False, coefficients=4), f"4C*(g+1); {_GRID}",
                   "per-channel FC from the 11x11 downsample to 4 coefficients -> EMP (Figure 2B)"),
    "cc-scalar": (dict(ch=False, mix=False, coefficients=1), f"C*(g+1); {_GRID}",
                  "scalar recalibration |P_c|=1: per-channel FC from the downsample to one gate"),
    "cc-full-scalar": (dict(ch=True, mix=True, coefficients=1), f"C*h*(g+1) + C*h*(h+1) + C*(C*h+1); {_CH}",
                       "scalar recalibration read as CC-block-Full with |P_c|=1: CH + MIX -> one gate/channel"),
}
_RANGE = {"coefficients in {-1...1} (Sec. 3)": {"coefficient_range": "-1..1"}}
_EMPS = {"Gaussian EMP (Table 2)": {"emp": "gaussian"}, "sine EMP (Table 2)": {"emp": "sine"}}
_UNIT = {"sine EMP with x read as eq. 2's x/W": {"emp": "sine", "emp_coordinates": "unit"}}
_ALTERNATIVES = {"cc-reduced": {**_EMPS, **_RANGE}, "cc-scalar": _RANGE}
#: This family's registry entries (:data:`recalib.blocks.BLOCKS` adds them).
ENTRIES: tuple[BlockEntry, ...] = (
    # Parameters depend on the grid, which the paper's small maps (8x8, 4x4) shrink.
    *(BlockEntry(name, ContextualConv, paper=PAPER, params=params, summary=summary, fixed=fixed,
                 needs_feat_size=True, alternatives=_ALTERNATIVES.get(name, {}))
      for name, (fixed, params, summary) in _VARIANTS.items()),
    BlockEntry("cc-static", StaticContextualConv, paper=PAPER, params="4C", needs_feat_size=True,
               summary="input-independent CC-block: learned coefficients, constant map; emp=bilinear|gaussian|sine",
               alternatives={**_EMPS, **_UNIT}),
    BlockEntry("cc-static-scalar", StaticChannelScale, paper=PAPER, params="C",
               summary="input-independent |P_c|=1: learned static per-channel weighting"),
)
