"""Coordinate-set averaging for MS-SAR as constant matrix products.

Every coordinate set used by MS-SAR is a rectangle, so averaging over it is separable: one
``(n × n')`` matrix per spatial axis. Pooling, its inverse spreading, and the sliding box
filter are therefore all ``x @ A`` products with small constant matrices:

* exact for every ``(H, W)`` (no divisibility assumed), unlike a strided or adaptive pool;
* exported as plain ``MatMul`` nodes with constant initialisers (adaptive pooling that does not
  divide its input exports as a sprawl of Gathers; a 113×113 ``AveragePool`` for the sliding
  window would cost ``O(window)`` adds per output and strains TensorRT's kernel-size limits).

The matrices are built with integer tensor arithmetic only (no ``sqrt``, no float rounding), so
a boundary never moves by one through floating-point error.

Regional sets (``K × K`` regions per map) are a **partition**: along an axis of length ``n``,
position ``p`` belongs to region ``⌊p·K/n⌋``, i.e. region ``i`` is ``[⌈i·n/K⌉, ⌈(i+1)·n/K⌉)``.
Region sizes differ by at most one. Spreading a region's value back is the transpose of the
membership, so every position receives the value of exactly the region it was averaged in. The
index ``⌊p·K/n⌋`` is also PyTorch's (and ONNX ``asymmetric``/``floor``) nearest-neighbour
resize, so the spreading equals ``F.interpolate(g, size=(H, W), mode="nearest")``. Adaptive
average pooling uses ``[⌊i·n/K⌋, ⌈(i+1)·n/K⌉)`` instead; when ``K`` does not divide ``n`` those
regions overlap by one row, which the partition gives to the earlier region only. When ``K``
divides ``n`` the two coincide.

Sliding sets are squares (an L∞ ball) of radius ``T = sqrt(H·W)/K`` around each position, clipped
at the borders and averaged over the positions inside the map only. The diamond (the L1 ball of
the paper's formula) is not separable: :func:`diamond_matrix` averages over it with one
``(H·W × H·W)`` matrix instead, applied to the flattened map.
"""
from __future__ import annotations

import torch

__all__ = ["region_matrices", "box_matrix", "diamond_matrix", "contract", "regions_fit"]


def regions_fit(size: tuple[int, int], k: int) -> bool:
    """Whether a ``k × k`` partition of an ``(H, W)`` map has no empty region."""
    return k <= size[0] and k <= size[1]


def region_matrices(n: int, k: int, dtype: torch.dtype = torch.float32,
                    device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(pool, spread)`` for one axis of length ``n`` split into ``k`` regions (``k ≤ n``).

    ``pool`` is ``(n, k)``: ``v @ pool`` averages each region of a length-``n`` row ``v``.
    ``spread`` is ``(k, n)``: ``g @ spread`` puts region ``i``'s value on each of its positions.
    """
    region = torch.arange(n, device=device) * k // n  # region of each position: ⌊p·k/n⌋
    member = (region.unsqueeze(1) == torch.arange(k, device=device)).to(dtype)  # (n, k)
    return member / member.sum(0), member.t()


def box_matrix(n: int, other: int, k: int, dtype: torch.dtype = torch.float32,
               device: torch.device | None = None) -> torch.Tensor:
    """``(n, n)`` clipped box average along an axis of length ``n`` in an ``n × other`` map.

    Position ``q`` is in the window of ``p`` when ``|p - q| ≤ T`` with ``T = sqrt(n·other)/k``,
    tested exactly as ``k²·(p - q)² ≤ n·other``. Columns are normalised by the number of window
    positions inside the map (borders clip the window; nothing is padded in).
    """
    pos = torch.arange(n, device=device)
    offset = pos.unsqueeze(1) - pos
    inside = (k * k * offset * offset <= n * other).to(dtype)  # symmetric
    return inside / inside.sum(0)


def diamond_matrix(h: int, w: int, k: int, dtype: torch.dtype = torch.float32,
                   device: torch.device | None = None) -> torch.Tensor:
    """``(H·W, H·W)`` clipped diamond average: ``x.flatten(2) @ D`` averages around every position.

    Position ``q`` is in the window of ``p`` when ``‖p − q‖₁ ≤ T`` with ``T = sqrt(H·W)/k``, tested
    exactly as ``k²·‖p − q‖₁² ≤ H·W``; positions are flattened row-major (``h·W + w``). Columns are
    normalised by the number of window positions inside the map.
    """
    rows = torch.arange(h, device=device).repeat_interleave(w)
    cols = torch.arange(w, device=device).repeat(h)
    distance = (rows.unsqueeze(1) - rows).abs() + (cols.unsqueeze(1) - cols).abs()
    inside = (k * k * distance * distance <= h * w).to(dtype)  # symmetric
    return inside / inside.sum(0)


def contract(x: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """Apply ``rows`` along H and ``cols`` along W: ``(N, C, H, W) → (N, C, W', H')``.

    Both products keep the constant on the right, ``x @ A`` (a batched matmul with a 2-D
    weight, which every runtime and FLOP counter handles); the price is that the result comes
    back with its spatial axes swapped. Callers either apply it twice (pool, then spread back)
    or once followed by per-position work and a transpose.
    """
    return (x @ cols).transpose(-1, -2) @ rows
