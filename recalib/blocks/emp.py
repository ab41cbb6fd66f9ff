"""Excitation Map Producers (EMPs) of the Contextual Convolution block.

Paper: Marwood & Baluja, "Contextual Convolution Blocks", BMVC 2021 (no official code).
An EMP maps 4 coefficients per channel, ``P_c``, to an ``H×W`` excitation map. Every EMP in
the paper is separable: ``f_c(x, y) = g(x; P_c[0], P_c[1]) · g(y; P_c[2], P_c[3])`` with the
coefficient order ``{·^w, ·^w, ·^h, ·^h}`` of equation 2 and Table 2. The blocks feed
coefficients squashed into the paper's range {0.5 … 1.5} (``P = tanh(·)/2 + 1``), chosen so
that "the gating is centred around 1.0 — a simple pass-through" (Section 3); training starts
at ``P = 1``.

- ``bilinear`` (eq. 2): ``g(u; a, b) = a·(1 - u) + b·u`` with ``a = initial``, ``b = end`` and
  ``u = x/W`` for ``x = 0 … W-1``. Eq. 2 divides by ``W`` (not ``W - 1``), so ``end`` is
  approached but not reached at the last pixel; that literal reading is kept. At ``P = 1`` the
  map is exactly 1.
- ``gaussian`` (Table 2): ``g(x; μ, σ) = G(x; μ, σ) + 0.5`` with ``G = exp(-(x - μ)²/(2σ²))``,
  the *unnormalised* Gaussian (peak 1), so each factor lies in (0.5, 1.5], the same range as
  the sine factor ``sin(·)/2 + 1`` and as the coefficients; a normalised pdf would make the
  gate's scale depend on σ.
- ``sine`` (Table 2): ``g(x; v, φ) = sin(v·x + φ)/2 + 1``.

**What Table 2's x is** (``reading``). Table 2 writes ``x``, not eq. 2's ``x/W``, and does not
say in what unit. Its coefficients are not corner values like eq. 2's: μ, σ are a position and
a width, v, φ a frequency and a phase, all confined to (0.5, 1.5). Measuring x as eq. 2 does,
``u = x/W ∈ [0, 1)`` for both (``reading="unit"``), puts every Gaussian centre in the right
or bottom half of the map (μ > 0.5), and keeps the sine's argument in (0.5, 3) where it is
positive: the sine gate lies in [1.15, 2.25], starts at 2.0–2.25, and can never attenuate.
The default ``reading="centred"`` measures x, at pixel centres, in the unit of each EMP's
coefficients, so that the formula is applied as written and the coefficient range means what
it says over the whole map:

- ``gaussian``: ``x ∈ (0.5, 1.5)`` across the map, i.e. the map spans the coefficient range:
  μ can place the centre anywhere, ``μ = 1`` (the start) is the map's centre and σ is
  ½ … 1½ map widths. A factor attenuates (down to 0.635) beyond 1.18σ from the centre; at
  ``P = 1`` the gate is 1.91 … 2.25, the price of Table 2's ``+ 0.5`` on a peak-1 Gaussian.
- ``sine``: ``x ∈ (-π, π)``, one period across the map: v is ½ … 1½ periods per map and φ a
  phase from its centre. At ``P = 1`` each factor's mean over the map is exactly 1 (a full
  period of ``sin(x + 1)`` sums to 0), so the gate is centred on the pass-through, between
  0.25 and 2.25, attenuating where ``sin < 0``.
- ``bilinear``: eq. 2's ``u = x/W`` in both readings (the equation says it).
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch

from recalib.errors import UnknownNameError

__all__ = ["EMPS", "READINGS", "DEFAULT_READING", "check_emp", "check_reading", "coordinates", "excitation_map"]

Profile = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
READINGS: tuple[str, ...] = ("centred", "unit")
DEFAULT_READING = "centred"


def _bilinear(a: torch.Tensor, b: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return a * (1 - u) + b * u


def _gaussian(mu: torch.Tensor, sigma: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    z = (u - mu) / sigma
    # z * z rather than z ** 2: one Mul node in ONNX instead of a Pow.
    return torch.exp(-0.5 * z * z) + 0.5


def _sine(v: torch.Tensor, phi: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return torch.sin(v * u + phi) / 2 + 1


EMPS: dict[str, Profile] = {"bilinear": _bilinear, "gaussian": _gaussian, "sine": _sine}


def check_emp(name: str) -> str:
    """Return ``name`` if it is a known EMP; otherwise raise a ConfigError listing the choices."""
    if name not in EMPS:
        raise UnknownNameError("EMP (excitation map producer)", str(name), sorted(EMPS))
    return name


def check_reading(reading: str) -> str:
    """Return ``reading`` if it is a known reading of Table 2's x; otherwise raise a ConfigError."""
    if reading not in READINGS:
        raise UnknownNameError("reading of Table 2's x (emp_coordinates)", str(reading), list(READINGS))
    return reading


def coordinates(size: int, dtype: torch.dtype, device: torch.device | None = None, *, emp: str = "bilinear",
                reading: str = DEFAULT_READING) -> torch.Tensor:
    """The x at which EMP ``emp`` evaluates each of ``size`` positions along one axis (module docstring)."""
    if emp == "bilinear" or reading == "unit":
        return torch.arange(size, dtype=dtype, device=device) / size  # eq. 2's x/W
    centres = (torch.arange(size, dtype=dtype, device=device) + 0.5) / size  # pixel centres in (0, 1)
    if emp == "gaussian":
        return centres + 0.5
    return centres * (2 * math.pi) - math.pi


def excitation_map(name: str, coefficients: torch.Tensor, size: tuple[int, int],
                   reading: str = DEFAULT_READING) -> torch.Tensor:
    """Render ``(..., 4)`` coefficients as ``(..., H, W)`` excitation maps with EMP ``name``.

    ``coefficients[..., 0:2]`` drive the width profile and ``[..., 2:4]`` the height profile.
    """
    profile = EMPS[name]
    u_h = coordinates(size[0], coefficients.dtype, coefficients.device, emp=name, reading=reading)
    u_w = coordinates(size[1], coefficients.dtype, coefficients.device, emp=name, reading=reading)
    p = coefficients.unsqueeze(-1)  # (..., 4, 1) broadcasts against a coordinate row
    along_w = profile(p[..., 0, :], p[..., 1, :], u_w)  # (..., W)
    along_h = profile(p[..., 2, :], p[..., 3, :], u_h)  # (..., H)
    return along_h.unsqueeze(-1) * along_w.unsqueeze(-2)
