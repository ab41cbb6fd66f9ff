"""Competitive squeeze-and-excitation (CMPE-SE) blocks.

Hu, Wen, Luo, Dai, Ma, Yu, "Competitive Inner-Imaging Squeeze and Excitation for Residual
Network" (arXiv:1807.08920); official code: scut-aitcm/Competitive-Inner-Imaging-SENet (MXNet
Gluon, Python 2). The gate of the residual branch is computed from both the residual ``U_r`` and
the identity ``X_id`` (Eq. 9): ``y = F_se(u_r, x_id) · U_r + X_id``. The block returns
``F_se(u_r, x_id) · U_r``; the host adds the identity (``recalibrate_residual``).

Integer division: the official code divides ints with Python-2 ``/`` (a floor). Here every
ratio is an explicit floor ``//`` (``C // r``, ``width // t``), which equals the official value
for every network in the paper; where a floor would silently change the structure (a fold
that does not tile the C channels: the official reshape then fails) the block raises
:class:`~recalib.errors.ConfigError` instead.
"""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from recalib.blocks.common import check_batch_statistics, check_dtype, check_input, reduced_channels
from recalib.entries import BlockEntry
from recalib.errors import ConfigError, ShapeError

__all__ = ["CMPESEDoubleFC", "CMPESEPairView", "CMPESEFolded", "ENTRIES"]

_PAPER = "Hu et al. 2018, Competitive Inner-Imaging SE (arXiv:1807.08920)"


class _CompetitiveSE(nn.Module):
    """Shared squeeze/scale of every CMPE-SE variant; subclasses define the excitation."""

    def __init__(self, channels: int, reduction: int, name: str) -> None:
        super().__init__()
        self.name = name
        self.hidden = reduced_channels(channels, reduction, name=name)
        self.channels, self.reduction = channels, reduction

    def forward(self, residual: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        """``(N, C, H, W), (N, C, H, W) → (N, C, H, W)``: the gated residual ``s · U_r``."""
        if identity is None:
            raise ShapeError(f"{self.name} computes its gate from the residual and the identity (Eq. 9) "
                             f"but was called with the residual only; call block(residual, identity) "
                             f"with the shortcut's output, as the residual backbones do")
        self._check(residual, identity)
        # Eq. 2 and Eq. 6: both flows squeezed by global average pooling.
        gate = self.excite(residual.mean((2, 3)), identity.mean((2, 3)))
        return residual * gate.reshape(-1, self.channels, 1, 1)

    def _check(self, residual: torch.Tensor, identity: torch.Tensor) -> None:
        check_input(residual, self.channels, self.name, self)
        check_dtype(identity, self, f"{self.name} (identity)")
        if residual.shape != identity.shape:
            raise ShapeError(f"{self.name}: residual {tuple(residual.shape)} and identity "
                             f"{tuple(identity.shape)} must have the same shape; pass the identity "
                             f"after the projection shortcut")

    def excite(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Squeezed residual ``u`` and identity ``x`` (both ``(N, C)``) → gate ``(N, C)`` in (0, 1)."""
        raise NotImplementedError

    def formula_params(self) -> int:
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"channels={self.channels}, reduction={self.reduction}"


class CMPESEDoubleFC(_CompetitiveSE):
    """CMPE-SE, basic mode "double FC" (paper Sec. 3.1, Eq. 7, Fig. 2b).

    ``s = σ(W2 · [ReLU(W1_r · û_r), ReLU(W1_id · x̂_id)])`` with ``W1_r, W1_id ∈ R^{h×C}``,
    ``W2 ∈ R^{C×2h}``, ``h = ⌊C/r⌋``.

    Shapes: residual and identity ``(N, C, H, W)`` → squeezed ``(N, C)`` each → embedded
    ``(N, h)`` each → concatenated ``(N, 2h)`` → gate ``(N, C)``; output ``(N, C, H, W)``.

    Parameters: ``4·C·⌊C/r⌋`` (``C·h`` per squeeze FC, ``2h·C`` for the excitation).

    Ambiguity decisions:

    * No bias anywhere. The paper writes no bias; the official code builds all three layers
      (1×1 convs on the pooled maps) with ``use_bias=False``. A bias would add C per block
      (8 k on ResNet-164), below the tables' resolution, so the code decides.
    * ``W2`` has ``2h`` inputs as the paper states (``w2_ex ∈ R^{C×2C/t}``), not ``h``: the tables
      show double FC costing more than the 1×1 pair view (2.12M vs 2.04M on ResNet-164;
      37.04M vs 36.92M on WRN-28-10), which only the ``2h`` reading gives (``C²/4`` vs ``3C²/16``).
    * Linear layers instead of 1×1 convs on 1×1 maps: the same parameters, one Gemm in ONNX.
    * Takes no ``width``/``t``: this mode has no inner-imaging filters.
    """

    def __init__(self, channels: int, *, reduction: int = 16) -> None:
        super().__init__(channels, reduction, "cmpe-se-double-fc")
        self.embed_residual = nn.Linear(channels, self.hidden, bias=False)
        self.embed_identity = nn.Linear(channels, self.hidden, bias=False)
        self.excitation = nn.Linear(2 * self.hidden, channels, bias=False)

    def excite(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        joint = torch.cat((torch.relu(self.embed_residual(u)), torch.relu(self.embed_identity(x))), dim=1)
        return torch.sigmoid(self.excitation(joint))

    def formula_params(self) -> int:
        return 4 * self.channels * self.hidden


def _bottleneck_width(channels: int, width: int | None, name: str) -> int:
    """The residual branch's inner width; expansion-4 bottleneck (``C // 4``) when not given."""
    if width is None:
        return max(1, channels // 4)
    if not isinstance(width, int) or isinstance(width, bool) or width < 1:
        raise ConfigError(f"{name}: width (the residual branch's bottleneck width) must be a positive "
                          f"integer, got {width!r}")
    return width


def _filter_count(width: int, t: int, name: str) -> int:
    """ε = ⌊width / t⌋ inner-imaging filters, at least one."""
    if not isinstance(t, int) or isinstance(t, bool) or t < 1:
        raise ConfigError(f"{name}: t (bottleneck width per inner-imaging filter) must be a positive "
                          f"integer, got {t!r}")
    # The official Python-2 `width / 16` yields zero filters (an empty conv) for width < 16; no
    # network in the paper gets there, and one filter is the smallest working encoder.
    return max(1, width // t)


class _InnerImagingSE(_CompetitiveSE):
    """Inner-imaging excitation shared by the pair views and the folded view (Eqs. 11-16).

    ``image(u, x)`` stacks the squeezed vectors into a one-channel map ``(N, 1, H, W)``; then
    ε filters (conv, no bias, no padding) → BN(ε) → average over the ε filters → flatten to
    ``(N, F)``, ``F = R = (H − kh + 1)(W − kw + 1)`` → ``Linear(F, h)`` → ReLU → ``Linear(h, C)``
    → sigmoid, no biases (Eq. 11-16). Parameters: ``ε·(kh·kw + 2) + (F + C)·h`` (the 2ε are
    BN's affine weight and bias).

    ``average_filters=False`` is the alternative Sec. 4.4 reports trying ("we average the
    outputs of the pair-view convolution kernels … When attempting not to do so, we find that
    the former can save numerous parameters"): the ε maps are flattened filter by filter
    instead, ``F = ε·R``, so the embedding FC grows to ``ε·R·h`` weights.
    """

    def __init__(self, channels: int, *, reduction: int, width: int | None, t: int, name: str,
                 map_size: tuple[int, int], kernel: tuple[int, int], average_filters: bool) -> None:
        super().__init__(channels, reduction, name)
        self.width, self.t = _bottleneck_width(channels, width, name), t
        self.filters = _filter_count(self.width, t, name)
        self.map_size, self.kernel = map_size, kernel
        if not isinstance(average_filters, bool):
            raise ConfigError(f"{name}: average_filters must be True (Eqs. 11-16) or False (Sec. 4.4's "
                              f"alternative), got {average_filters!r}")
        self.average_filters = average_filters
        self.relation = (map_size[0] - kernel[0] + 1) * (map_size[1] - kernel[1] + 1)
        self.flat = self.relation if average_filters else self.filters * self.relation
        self.reimage = nn.Conv2d(1, self.filters, kernel, bias=False)
        self.norm = nn.BatchNorm2d(self.filters)
        self.embed = nn.Linear(self.flat, self.hidden, bias=False)
        self.excitation = nn.Linear(self.hidden, channels, bias=False)

    def image(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Squeezed ``(N, C)`` residual and identity → inner-imaged map ``(N, 1, H, W)``."""
        raise NotImplementedError

    def excite(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        check_batch_statistics(u.shape[0] * self.relation, self.training, self.name,
                               f"each of the {self.filters} one-value re-imaged maps")
        maps = self.norm(self.reimage(self.image(u, x)))
        # Averaging the ε filter responses keeps the FC input at R, independent of ε (Sec. 4.4).
        relation = (maps.mean(1) if self.average_filters else maps).flatten(1)
        return torch.sigmoid(self.excitation(torch.relu(self.embed(relation))))

    def formula_params(self) -> int:
        kh, kw = self.kernel
        return self.filters * (kh * kw + 2) + (self.flat + self.channels) * self.hidden

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, width={self.width}, t={self.t}, filters={self.filters}, "
                f"map={self.map_size[0]}x{self.map_size[1]}, kernel={self.kernel[0]}x{self.kernel[1]}, "
                f"average_filters={self.average_filters}")


_PAIR_KERNELS = {"2x1": (1, 2), "1x1": (1, 1)}


class CMPESEPairView(_InnerImagingSE):
    """CMPE-SE with pair-view inner imaging, "Conv 2×1" or "Conv 1×1" (Sec. 3.2, Eqs. 10-14, Fig. 3).

    ``v̂_s = [û_r; x̂_id]`` is stored as the official code does, ``(N, 1, C, 2)`` (column 0 the
    residual, column 1 the identity), and scanned by ε = max(1, ⌊width/t⌋) filters:

    * ``view="2x1"``: kernel (1, 2) — each filter mixes one residual/identity pair; the map
      becomes ``(N, ε, C, 1)``, averaged and flattened to ``F = C`` (Eq. 11-12).
    * ``view="1x1"``: kernel (1, 1) — a per-filter scale; the map stays ``(N, ε, C, 2)``,
      averaged and flattened to ``F = 2C`` in the order ``û¹, x̂¹, û², x̂², …`` (Eq. 13-14,
      ``w1 ∈ R^{C/t×2C}``).

    Then ``s = σ(W2 · ReLU(W1 · v_c))``, ``W1 ∈ R^{h×F}``, ``W2 ∈ R^{C×h}``, ``h = ⌊C/r⌋``.

    Parameters: 2×1: ``4ε + 2·C·h``; 1×1: ``3ε + 3·C·h`` (conv ε·kh·kw, BN 2ε, FCs (F + C)·h).
    With ``average_filters=False`` (Sec. 4.4's alternative, see :class:`_InnerImagingSE`)
    ``F = ε·C`` (2×1) or ``ε·2C`` (1×1): ``4ε + (ε + 1)·C·h`` and ``3ε + (2ε + 1)·C·h``.

    Ambiguity decisions:

    * ``width`` is the bottleneck width of the residual block (ε = C/64 on expansion-4
      bottlenecks) as in the official code (``channels / 16`` with the bottleneck width); for
      basic blocks (WRN, ResNet-110) the official code uses the block width, so pass
      ``width=C``. Default ``channels // 4``. The alternative ε = C/16 changes ResNet-164 by
      1.5 k parameters, below the tables' resolution; the code decides.
    * The 1×1 view flattens ``2C`` values: the tables put it 0.09M above the 2×1 view on
      ResNet-164 (2.04M vs 1.95M; this reading: +96.6 k) and 0.1M above on WRN-28-10 (+134 k).
    * No biases (official code: ``use_bias=False`` on the conv and both Dense layers).

    Note (inherent to the official design, kept): in the 1×1 view each filter is a scalar
    ``w_e`` on a one-channel map and BN follows, so in training ``BN(w_e·z) = sign(w_e)·BN(z)``
    up to BN's eps — the 1×1 weights get almost no gradient and the learning happens in BN's
    affine parameters.
    """

    def __init__(self, channels: int, *, view: Literal["2x1", "1x1"] = "2x1", reduction: int = 16,
                 width: int | None = None, t: int = 16, average_filters: bool = True) -> None:
        if not isinstance(view, str) or view not in _PAIR_KERNELS:
            raise ConfigError(f"cmpe-se pair view must be one of {', '.join(_PAIR_KERNELS)}, got {view!r}")
        super().__init__(channels, reduction=reduction, width=width, t=t, name=f"cmpe-se-pair-{view}",
                         map_size=(channels, 2), kernel=_PAIR_KERNELS[view], average_filters=average_filters)

    def image(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.stack((u, x), dim=-1).unsqueeze(1)


def _fold_shape(channels: int, rows: int | None, cols: int | None) -> tuple[int, int]:
    """The folded map ``(n, m)`` with ``n·m = 2C``, from exactly one of ``fold_rows``/``fold_cols``."""
    name = "cmpe-se-folded-3x3"
    if rows is not None and cols is not None:
        raise ConfigError(f"{name}: give fold_rows or fold_cols, not both (the other follows from "
                          f"rows·cols = 2C = {2 * channels})")
    valid_cols = [m for m in range(3, channels + 1) if channels % m == 0 and 2 * channels // m >= 3]
    valid_rows = [2 * channels // m for m in reversed(valid_cols)]
    if rows is None:
        m = 16 if cols is None else cols
        if not isinstance(m, int) or m not in valid_cols:
            raise ConfigError(f"{name}: fold_cols={m!r} must divide C={channels} and leave a folded map "
                              f"of at least 3x3 (rows = 2C/cols); valid fold_cols: {valid_cols or 'none'}")
        return 2 * channels // m, m
    # Rows come in residual/identity pairs, so n must be even and n/2 must divide C.
    if not isinstance(rows, int) or rows not in valid_rows:
        raise ConfigError(f"{name}: fold_rows={rows!r} must be even, with rows/2 dividing C={channels} "
                          f"and a folded map of at least 3x3; valid fold_rows: {valid_rows or 'none'}")
    return rows, 2 * channels // rows


class CMPESEFolded(_InnerImagingSE):
    """CMPE-SE with folded pair-view inner imaging and a 3×3 encoder (Sec. 3.3, Eqs. 15-16, Fig. 4).

    The ``2 × C`` pair map is folded into ``(n, m)``, ``n·m = 2C``, keeping residual and
    identity rows alternating (Eq. 15): row ``2j`` holds ``û_r[j·m : (j+1)·m]`` and row
    ``2j+1`` holds ``x̂_id[j·m : (j+1)·m]``. Official code: ``(N, 1, C, 2) → (N, C/m, m, 2) →
    transpose → (N, 1, 2C/m, m)``, the same map. ε = max(1, ⌊width/t⌋) 3×3 filters without
    padding + BN → ``(N, ε, n−2, m−2)`` → averaged, flattened (``F = (n−2)(m−2)``) → ``Linear(F, h)``
    → ReLU → ``Linear(h, C)`` → sigmoid, ``h = ⌊C/r⌋``, no biases.

    Fold shape, exactly one of (both fixed per network, so one option serves every stage):

    * ``fold_cols=m``: ``(n = 2C/m, m)``; the paper's pre-act ResNet setting is ``m = 16``
      (the block's default; official ``reimage_k = 16``).
    * ``fold_rows=n``: ``(n, m = 2C/n)``; the paper's WRN setting is ``n = 20`` (official
      ``reimage_k = 10``, the widening factor of WRN-28-10). :func:`recalib.create_model`
      defaults to it on WRN-22-10 and WRN-28-10 (:mod:`recalib.models.block_defaults`).

    ``m`` must divide C (``n/2`` must divide C) and the map must be at least 3×3, else
    :class:`ConfigError`. The paper's Table 5 lists ``n = 20`` for WRN-16-8 too, whose widths
    (128/256/512) are not multiples of 10: the official Python-2 ``C / 10`` floors and the
    reshape fails, so that setting cannot have run as written; ``fold_rows=16`` (k = 8, the
    widening factor) is the working analogue and WRN-16-8's default in ``create_model``.

    Parameters: ``11ε + ((n−2)(m−2) + C)·h`` (conv 9ε, BN 2ε); with ``average_filters=False``
    ``11ε + (ε·(n−2)(m−2) + C)·h``.

    Ambiguity decisions: no padding (official ``Conv2D(kernel_size=(3, 3))`` has none; the tables
    put the folded view below the 1×1 view — 36.90M vs 36.92M on WRN-28-10, 1.99M vs 2.04M on
    ResNet-164 — whereas "same" padding would make F = 2C and cost 8ε more than 1×1);
    ``width`` as in :class:`CMPESEPairView`.
    """

    def __init__(self, channels: int, *, fold_cols: int | None = None, fold_rows: int | None = None,
                 reduction: int = 16, width: int | None = None, t: int = 16, average_filters: bool = True) -> None:
        map_size = _fold_shape(channels, fold_rows, fold_cols)
        super().__init__(channels, reduction=reduction, width=width, t=t, name="cmpe-se-folded-3x3",
                         map_size=map_size, kernel=(3, 3), average_filters=average_filters)

    def image(self, u: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        rows, cols = self.map_size
        pairs = torch.stack((u.reshape(-1, rows // 2, cols), x.reshape(-1, rows // 2, cols)), dim=2)
        return pairs.reshape(-1, 1, rows, cols)


_TAKES = "forward(residual, identity) returns s·residual; the host adds the identity"
_NO_AVERAGE = {"the ε filter maps not averaged (Sec. 4.4)": {"average_filters": False}}

#: This family's registry entries (:data:`recalib.blocks.BLOCKS` adds them).
ENTRIES: tuple[BlockEntry, ...] = (
    BlockEntry("cmpe-se-double-fc", CMPESEDoubleFC, paper=_PAPER, params="4·C·⌊C/r⌋",
               summary=f"both flows squeezed, embedded by separate FCs, joint excitation; {_TAKES}",
               takes_identity=True),
    BlockEntry("cmpe-se-pair-2x1", CMPESEPairView, paper=_PAPER, fixed={"view": "2x1"},
               params="4ε + 2·C·⌊C/r⌋ (average_filters=False: 4ε + (ε+1)·C·⌊C/r⌋), "
                      "ε = max(1, ⌊width/t⌋)",
               summary=f"pair-view inner imaging, ε (1,2) filters over the (C, 2) map; {_TAKES}",
               takes_identity=True, alternatives=_NO_AVERAGE),
    BlockEntry("cmpe-se-pair-1x1", CMPESEPairView, paper=_PAPER, fixed={"view": "1x1"},
               params="3ε + 3·C·⌊C/r⌋ (average_filters=False: 3ε + (2ε+1)·C·⌊C/r⌋), "
                      "ε = max(1, ⌊width/t⌋)",
               summary=f"pair-view inner imaging, ε 1x1 filters, flattened 2C; {_TAKES}",
               takes_identity=True, alternatives=_NO_AVERAGE),
    BlockEntry("cmpe-se-folded-3x3", CMPESEFolded, paper=_PAPER,
               params="11ε + (F + C)·⌊C/r⌋, F = (n−2)(m−2) (average_filters=False: ε·(n−2)(m−2)), "
                      "n·m = 2C, ε = max(1, ⌊width/t⌋)",
               summary=f"pair map folded to (n, m), alternating rows, ε 3x3 filters; {_TAKES}",
               takes_identity=True, alternatives=_NO_AVERAGE),
)
