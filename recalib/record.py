"""One model to build: :class:`ModelRecord`, what every model source resolves to.

A specification (``resnet50+se:reduction=8``), a paper configuration, a checkpoint and the
claims audit's networks each name a model by one record: the architecture, the block, the
options (backbone and block options together, as :func:`recalib.create_model` takes them)
and the stages that get the block. The record builds its model (:meth:`~ModelRecord.create`,
random weights; :meth:`~ModelRecord.create_on_meta`, shapes only), says which input the model
takes (:meth:`~ModelRecord.input_chw`, the one input-size rule) and travels as JSON
(:meth:`~ModelRecord.to_json`, :meth:`~ModelRecord.from_json`: what checkpoints store).

Every model :func:`recalib.create_model` builds carries its record, ``model.recalib_record``,
with every option it was built with (the block's defaults included), so a checkpoint rebuilds
that very model after a default changes.

A record is frozen and hashable (options are held read-only, lists as tuples), so the claims
audit measures each network once however many claims name it. It reads the architecture
registry and builds when asked, not at import: reading a record (a paper's table, a
checkpoint's header) costs no torch, and :mod:`recalib.models` records what it builds
without importing itself back.

A model recalib did not build (a user's factory, a ``torch.export`` program: :mod:`recalib.sources`)
resolves to another kind of record answering the same questions, :class:`Record`; only a
:class:`ModelRecord` is stored in a checkpoint, so no file ever names code to run.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from recalib.errors import CheckpointError, quote

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Record", "ModelRecord", "hashable_value"]

_KEYS = "{'arch', 'block', 'stages', 'options'}"
_FIX = "the file was edited or written by another tool: save the model again with recalib.save_checkpoint"


def hashable_value(value: Any) -> Any:
    """Lists and tuples become tuples, recursively: JSON's lists compare equal to Python's literals."""
    return tuple(hashable_value(v) for v in value) if isinstance(value, (list, tuple)) else value


class Record(Protocol):
    """What every model source resolves to: a model it builds, and the input that model takes."""

    def create(self) -> nn.Module:
        """The model, with its weights (random ones from the global seed where the source has none)."""

    def create_on_meta(self, what: str | None = None) -> nn.Module:
        """The model on the meta device (shapes only); ``what`` names it in errors."""

    def input_chw(self) -> tuple[int, int, int]:
        """``(C, H, W)`` the model takes."""

    def describe(self) -> str:
        """One line naming the model."""


@dataclass(frozen=True)
class ModelRecord:
    """Architecture ``arch`` with ``block`` (None: none) and ``options``, the block in ``stages`` only (None: all).

    ``stages`` are kept sorted and ``options`` in the order given; records that differ only in
    those orders are equal.
    """

    arch: str
    block: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    stages: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType({k: hashable_value(v) for k, v in self.options.items()}))
        if self.stages is not None:
            object.__setattr__(self, "stages", tuple(sorted(set(self.stages))))

    def __hash__(self) -> int:
        return hash((self.arch, self.block, tuple(sorted(self.options.items())), self.stages))

    def __repr__(self) -> str:
        return f"ModelRecord({self.arch!r}, {self.block!r}, {dict(self.options)!r}, {self.stages!r})"

    def __reduce__(self) -> tuple[type[ModelRecord], tuple[Any, ...]]:
        """Pickled and deep-copied (with the model that carries it) by its fields: a read-only view cannot be."""
        return ModelRecord, (self.arch, self.block, dict(self.options), self.stages)

    def create(self) -> nn.Module:
        """The model with random weights; it carries the record of every option it was built with."""
        from recalib.models.assembly import assemble

        model, options = assemble(self.arch, self.block, self.stages, self.options)
        # object.__setattr__: a plain attribute, not registered as a submodule or buffer.
        object.__setattr__(model, "recalib_record", replace(self, options=options))
        return model

    def create_on_meta(self, what: str | None = None) -> nn.Module:
        """The model on the meta device: every tensor's shape, no memory (``what`` names it in errors)."""
        from recalib.infra.meta import meta_model

        return meta_model(self.create, what or self.describe())

    def input_chw(self) -> tuple[int, int, int]:
        """``(C, H, W)`` the model takes: its ``input_size`` option, else the architecture's nominal size."""
        from recalib.models.catalog import arch_entry

        entry = arch_entry(self.arch)
        size = self.options.get("input_size")
        height, width = entry.input_size if size is None else ((size, size) if isinstance(size, int) else size)
        return entry.in_channels, int(height), int(width)

    def with_options(self, extra: Mapping[str, Any], block: str | None = None) -> ModelRecord:
        """This record with ``extra`` options layered on (and ``block`` replaced if given)."""
        return replace(self, block=block or self.block, options={**self.options, **extra})

    def without_block(self) -> ModelRecord:
        """The same backbone, built alike, without the block (block options and stages dropped)."""
        from recalib.models.catalog import arch_entry

        accepted = arch_entry(self.arch).option_names()
        return ModelRecord(self.arch, None, {k: v for k, v in self.options.items() if k in accepted})

    def canonical(self) -> ModelRecord:
        """One record per network: without a block, options set to the backbone's defaults are dropped.

        (With a block, defaults may depend on the backbone, so nothing is dropped.)
        """
        if self.block is not None:
            return self
        from recalib.models.catalog import arch_entry

        defaults = {k: hashable_value(v) for k, v in arch_entry(self.arch).option_defaults().items()}
        return replace(self, options={k: v for k, v in self.options.items() if defaults.get(k, object()) != v})

    def describe(self) -> str:
        """E.g. ``resnet50 +se reduction=8 stages=[3, 4]`` (options sorted by name)."""
        parts = [self.arch] + ([f"+{self.block}"] if self.block else [])
        parts += [f"{k}={v}" for k, v in sorted(self.options.items())]
        parts += [f"stages={list(self.stages)}"] if self.stages is not None else []
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """``{"arch", "block", "stages", "options"}`` as plain JSON data (what a checkpoint stores).

        Raises :class:`CheckpointError` for an option that is not plain data: it could not be stored.
        """
        data = {"arch": self.arch, "block": self.block, "stages": None if self.stages is None else list(self.stages),
                "options": dict(self.options)}
        try:
            return dict(json.loads(json.dumps(data)))
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"the model record {self.describe()} holds a value that is not plain data "
                                  f"({exc}); build the model with plain options (numbers, strings, lists)") from exc

    @classmethod
    def from_json(cls, data: Any, where: str) -> ModelRecord:
        """The record in ``data`` (parsed JSON read from ``where``), checked: :class:`CheckpointError` says
        what is wrong."""
        if not isinstance(data, dict):
            raise CheckpointError(f"{where}: the stored spec is a JSON {type(data).__name__}, not an object "
                                  f"{_KEYS}; {_FIX}")
        stages = data.get("stages")
        wrong = [f"{key} (got {quote(data.get(key))})" for key, ok in (
            ("arch", isinstance(data.get("arch"), str)), ("block", isinstance(data.get("block"), (str, type(None)))),
            ("stages", stages is None or isinstance(stages, list) and all(_is_stage(s) for s in stages)),
            ("options", isinstance(data.get("options", {}), dict))) if not ok]
        if wrong:
            raise CheckpointError(f"{where}: the stored spec has no valid {', '.join(wrong)}: arch is a name, block "
                                  f"a name or null, stages a list of stage numbers or null, options an object; {_FIX}")
        return cls(data["arch"], data.get("block"), dict(data.get("options") or {}),
                   None if stages is None else tuple(stages))


def _is_stage(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
