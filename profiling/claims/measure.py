"""Build library models and count them once, however many claims and conventions ask.

A :class:`Measurer` caches one :class:`ModelCounts` per :class:`~recalib.record.ModelRecord`:
per-category parameter counts always, per-category FLOP counts (one fvcore trace at the
record's input size, batch 1) when any caller needs them, and the recalibration blocks it
holds, grouped for the derivations of the claims report. Conventions are applied later by
the callers, so no model is built or traced twice. A model counted for its parameters only is
built on the meta device (shapes, no memory, no weight initialisation); fvcore's trace runs
the model, so a traced model is built for real.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from torch import nn

from recalib.profiling.counting.counts import count_module, count_params
from recalib.profiling.counting.scopes import recalibration_modules
from recalib.errors import RecalibError
from recalib.record import ModelRecord

__all__ = ["BlockGroup", "ModelCounts", "Measurer", "block_groups"]


@dataclass(frozen=True)
class BlockGroup:
    """``count`` consecutive blocks of one kind, width and bottleneck, and their parameter formula's values.

    ``width`` is the block's bottleneck: its hidden width, or ``C // reduction`` when it has a
    reduction and no hidden width of its own (None for blocks without one). Blocks of a group
    differ only in what the formula sees beyond ``C`` (e.g. a multi-stage source width).
    """

    kind: str
    count: int
    channels: int
    width: int | None
    smallest: int
    largest: int
    total: int

    def describe(self) -> str:
        """E.g. ``3 × C=256 (hidden 16): 8,464 each`` or ``16 × C=12 (hidden 4): 528–2,688 each``."""
        width = f" (hidden {self.width})" if self.width else ""
        each = f"{self.smallest:,}" if self.smallest == self.largest else f"{self.smallest:,}–{self.largest:,}"
        return f"{self.count} × C={self.channels}{width}: {each} each"


def _width(block: nn.Module) -> int | None:
    hidden = getattr(block, "hidden", None)
    if isinstance(hidden, int) and hidden > 0:
        return hidden
    reduction, channels = getattr(block, "reduction", None), getattr(block, "channels", None)
    return channels // reduction if isinstance(reduction, int) and isinstance(channels, int) else None


def block_groups(model: nn.Module) -> tuple[BlockGroup, ...]:
    """The model's recalibration blocks, consecutive ones of the same kind and widths grouped, in order."""
    groups: list[BlockGroup] = []
    for _, block in recalibration_modules(model):
        formula = getattr(block, "formula_params", None)
        each = int(formula()) if callable(formula) else sum(p.numel() for p in block.parameters())
        kind, channels, width = type(block).__name__, int(getattr(block, "channels", 0)), _width(block)
        last = groups[-1] if groups else None
        if last is not None and (last.kind, last.channels, last.width) == (kind, channels, width):
            groups[-1] = BlockGroup(kind, last.count + 1, channels, width, min(last.smallest, each),
                                    max(last.largest, each), last.total + each)
        else:
            groups.append(BlockGroup(kind, 1, channels, width, each, each, each))
    return tuple(groups)


@dataclass
class ModelCounts:
    """Root-module counts of one model record; ``error`` is set (and counts empty) if it failed to build."""

    record: ModelRecord
    params: Counter = field(default_factory=Counter)
    flops: Counter | None = None
    unsupported: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    error: str | None = None
    blocks: tuple[BlockGroup, ...] = ()


class Measurer:
    """Caches counts by model record.

    ``trace`` names the records some caller will want FLOPs of: they are traced when first
    built, so a model asked for its parameters first is not built a second time later.
    """

    def __init__(self, trace: Iterable[ModelRecord] = ()) -> None:
        self._cache: dict[ModelRecord, ModelCounts] = {}
        self._trace: set[ModelRecord] = set()
        self.trace(trace)

    def trace(self, records: Iterable[ModelRecord]) -> None:
        """Mark ``records`` as wanted with FLOPs: traced when first built."""
        self._trace.update(record.canonical() for record in records)

    def __len__(self) -> int:
        return len(self._cache)

    def unsupported(self) -> Counter:
        """Ops no handle covered, over every traced model (empty means no FLOP was missed)."""
        total: Counter = Counter()
        for counted in self._cache.values():
            total.update(counted.unsupported)
        return total

    def get(self, record: ModelRecord, flops: bool = False) -> ModelCounts:
        """The counts of ``record`` (traced when ``flops`` is requested and not yet done)."""
        record = record.canonical()
        cached = self._cache.get(record)
        if cached is not None and (cached.error or not flops or cached.flops is not None):
            return cached
        counted = self._count(record, flops or record in self._trace)
        self._cache[record] = counted
        return counted

    @staticmethod
    def _count(record: ModelRecord, flops: bool) -> ModelCounts:
        start = time.perf_counter()
        try:
            model = (record.create() if flops else record.create_on_meta()).eval()
        except RecalibError as exc:
            return ModelCounts(record, error=f"{type(exc).__name__}: {exc}")
        groups = block_groups(model)
        if not flops:
            params = count_params(model)[""]
            return ModelCounts(record, params, seconds=time.perf_counter() - start, blocks=groups)
        try:
            counts = count_module(model, (1, *record.input_chw()))
        except Exception as exc:  # noqa: BLE001 - one model that cannot run must not sink the audit
            return ModelCounts(record, count_params(model)[""], error=f"{type(exc).__name__}: {exc}", blocks=groups)
        return ModelCounts(record, counts.params[""], counts.flops[""], counts.unsupported,
                           time.perf_counter() - start, blocks=groups)
