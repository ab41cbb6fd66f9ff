"""Block settings the papers fix for a family of backbones, declared in one table.

A block's constructor defaults are one paper setting (MS-SAR's ``reduction=3`` is its CIFAR
ResNet setting). Where a paper uses another setting for a whole family of backbones, that
setting is what :func:`recalib.create_model` gives on those backbones: it consults
:data:`BLOCK_DEFAULTS` and adds each matching row's options that the caller did not give.
A row matches an architecture by its registry entry (its name and dataset), which the caller
passes in: this table knows no registry.
Explicit options always win, key by key; a row also steps aside when the caller gives one of
its ``unless`` options (``fold_cols`` replaces a default ``fold_rows``: the block takes one of
the two); an option given as ``None`` asks for the default. The options a model was built with,
defaults included, are recorded in ``model.recalib_record``, so a checkpoint rebuilds the same
model after a default changes.

``recalib blocks`` prints these rows under each block.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from recalib.entries import ArchEntry

__all__ = ["BlockDefault", "BLOCK_DEFAULTS", "defaults_for", "with_block_defaults"]


@dataclass(frozen=True)
class BlockDefault:
    """``options`` for ``block`` on every backbone of ``dataset`` and/or named in ``archs``."""

    block: str
    options: Mapping[str, Any]
    source: str
    dataset: str | None = None
    archs: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()

    def matches(self, arch: ArchEntry, block: str) -> bool:
        return (block == self.block and (self.dataset is None or arch.dataset == self.dataset)
                and (not self.archs or arch.name in self.archs))

    def backbones(self, archs: Iterable[ArchEntry]) -> list[str]:
        """The names of those of ``archs`` (e.g. every registered architecture) this row applies to."""
        return [arch.name for arch in archs if self.matches(arch, self.block)]


def _row(block: str, options: dict[str, Any], source: str, **where: Any) -> BlockDefault:
    return BlockDefault(block, MappingProxyType(options), source, **where)


_WRN_FOLD = "CMPE-SE Sec. 4.1 and appendix Table 5: folded maps of (n = 20, m = C/10) for WRN"

BLOCK_DEFAULTS: tuple[BlockDefault, ...] = (
    _row("ms-sar", {"reduction": 16}, dataset="imagenet",
         source="MS-SAR Sec. 4.3, Table 5: the ImageNet models use SE's ratio r = 16 "
                "(MS-SAR-ResNeXt-50 has 27.6M parameters; the CIFAR setting r = 3 gives 38.5M)"),
    _row("ms-sar", {"recalibration": "multi-stage", "reduction": 1}, archs=("densenet_bc100", "densenet_bc190"),
         source="MS-SAR Sec. 3.4: DenseNet gates are computed from the main vector (multi-stage, the "
                "Tables 2-3 DN* models); Sec. 4.1's D' = D/3 per scale is r = 1, which Table 3's "
                "DenseNet-100 FLOPs reproduce (+1.81M at K = {4}, +0.79M at {1, 2, 4})"),
    _row("cmpe-se-folded-3x3", {"fold_rows": 20}, archs=("wrn22_10", "wrn28_10"), unless=("fold_cols",),
         source=_WRN_FOLD),
    _row("cmpe-se-folded-3x3", {"fold_rows": 16}, archs=("wrn16_8",), unless=("fold_cols",),
         source=f"{_WRN_FOLD}; n = 20 cannot fold WRN-16-8's 128/256/512 channels (C/10 is not "
                f"whole, the official reshape fails), so n = 16 = 2k, that table's (n = 16, m = C/8)"),
)


def defaults_for(arch: ArchEntry, block: str | None) -> list[BlockDefault]:
    """The rows of :data:`BLOCK_DEFAULTS` for ``block`` on architecture ``arch``."""
    if block is None:
        return []
    return [row for row in BLOCK_DEFAULTS if row.matches(arch, block)]


def with_block_defaults(arch: ArchEntry, block: str | None, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` plus the defaults of ``block`` on ``arch`` that the caller did not set or replace."""
    merged = dict(options)
    given = {k for k, v in options.items() if v is not None}  # None asks for the default
    for row in defaults_for(arch, block):
        if not set(row.unless) & given:
            merged.update({k: v for k, v in row.options.items() if k not in given})
    return merged
