"""Excitation Map Producers (EMPs) of the Contextual Convolution block.

Paper: Marwood & Baluja, "Contextual Convolution Blocks", BMVC 2021 (no official code).
An EMP maps 4 coefficients per channel, ``P_c``, to an ``H×W`` excitation map. Every EMP in
the paper is separable: ``f_c(x, y) = g(x; P_c[0], P_c[1]) · g(y; P_c[2], P_c[3])`` with the
coefficient order ``{·^w, ·^w, ·^h, ·^h}`` of equation 2 and Table 2.

Coordinates are normalised as in equation 2: ``u = x / W`` for ``x = 0 … W-1`` (and ``y / H``),
so ``u ∈ [0, 1)`` and a coefficient means the same thing at every feature-map size. Equation 2
divides by ``W`` (not ``W - 1``), so the ``end`` value is approached but not reached at the last
pixel; that literal reading is kept.

- ``bilinear`` (eq. 2): ``g(u; a, b) = a·(1 - u) + b·u`` with ``a = initial``, ``b = end``.
- ``gaussian`` (Table 2): ``g(u; μ, σ) = exp(-(u - μ)² / (2σ²)) + 0.5``. ``G`` is read as the
  *unnormalised* Gaussian (peak 1) so that each factor lies in ``(0.5, 1.5]``, the same range as
  the paper's sine factor ``sin(·)/2 + 1`` and its chosen coefficient range {0.5 … 1.5}; a
  normalised pdf would make the gate's scale depend on σ.
- ``sine`` (Table 2): ``g(u; v, φ) = sin(v·u + φ)/2 + 1``.

The blocks feed coefficients already squashed into (0.5, 1.5), so σ > 0 always.
"""
from __future__ import annotations

from collections.abc import Callable

import torch

from recalib.errors import UnknownNameError

__all__ = ["EMPS", "check_emp", "coordinates", "excitation_map"]

Profile = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


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


def coordinates(size: int, dtype: torch.dtype, device: torch.device | None = None) -> torch.Tensor:
    """``x / size`` for ``x = 0 … size-1`` (equation 2's normalisation)."""
    return torch.arange(size, dtype=dtype, device=device) / size


def excitation_map(name: str, coefficients: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Render ``(..., 4)`` coefficients as ``(..., H, W)`` excitation maps with EMP ``name``.

    ``coefficients[..., 0:2]`` drive the width profile and ``[..., 2:4]`` the height profile.
    """
    profile = EMPS[name]
    u_h = coordinates(size[0], coefficients.dtype, coefficients.device)
    u_w = coordinates(size[1], coefficients.dtype, coefficients.device)
    p = coefficients.unsqueeze(-1)  # (..., 4, 1) broadcasts against a coordinate row
    along_w = profile(p[..., 0, :], p[..., 1, :], u_w)  # (..., W)
    along_h = profile(p[..., 2, :], p[..., 3, :], u_h)  # (..., H)
    return along_h.unsqueeze(-1) * along_w.unsqueeze(-2)
