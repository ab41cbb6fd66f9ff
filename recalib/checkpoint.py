"""Checkpoints: the model's record plus its weights, in one safetensors file.

Format (``recalib-checkpoint/2``): a safetensors file whose tensors are the model's
``state_dict`` and whose string metadata holds ``format``, ``recalib_version`` and ``spec``,
the JSON object ``{"arch", "block", "stages", "options"}`` of the model's record
(:meth:`recalib.record.ModelRecord.to_json`: what :func:`recalib.create_model` records on every
model it builds as ``model.recalib_record``, every effective option included). safetensors
holds only tensors and strings, so loading never executes code from the file (unlike
pickle-based ``torch.load``).

Nothing is trusted before it is checked. Loading validates the stored record
(:meth:`~recalib.record.ModelRecord.from_json`), builds its model on the meta device (no memory)
and compares every tensor's shape with the file's header, and only then builds the model and
reads the weights; saving makes the same comparison, so a model that cannot be rebuilt from its
record (a folded one, say) is refused instead of written.

Format 1 files stored only the options their user passed. Block defaults that changed since
(:mod:`recalib.models.block_defaults`, the CC EMP reading) are filled in with the values those
files were built with (:data:`FORMAT_1_DEFAULTS`), so they load as they were saved.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recalib.blocks import BLOCKS
from recalib.entries import keyword_names
from recalib.errors import CheckpointError, RecalibError, first_line, quote, shorten
from recalib.infra.atomic import check_destinations, staging
from recalib.infra.meta import check_state_shapes
from recalib.infra.reading import PATH_LIMIT, check_regular, parse_json
from recalib.models.catalog import arch_entry
from recalib.record import ModelRecord
from recalib.version import __version__

__all__ = ["save_checkpoint", "load_checkpoint", "read_record", "FORMAT", "FORMAT_1", "FORMAT_1_DEFAULTS"]

_SPEC_LIMIT = 1 << 20  # characters: a model record is a few hundred
_SAFETENSORS_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.float64: "F64",
                       torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
                       torch.uint8: "U8", torch.bool: "BOOL"}
FORMAT = "recalib-checkpoint/2"
FORMAT_1 = "recalib-checkpoint/1"
# (block, option, value, unless): a format-1 record of ``block`` (None: any block that takes the
# option) without ``option`` (nor any ``unless`` option) was built with ``value``.
FORMAT_1_DEFAULTS: tuple[tuple[str | None, str, Any, tuple[str, ...]], ...] = (
    ("ms-sar", "reduction", 3, ()),
    ("ms-sar", "recalibration", "single-stage", ()),
    ("cmpe-se-folded-3x3", "fold_cols", 16, ("fold_rows",)),
    (None, "emp_coordinates", "unit", ()),
)


def save_checkpoint(model: nn.Module, path: str | Path, *, record: ModelRecord | None = None,
                    force: bool = False) -> Path:
    """Write ``model``'s record and weights to ``path`` atomically; returns the path.

    ``record`` overrides ``model.recalib_record`` (needed for models not built by ``create_model``). Only a
    :class:`~recalib.record.ModelRecord` is stored: a user's model (a factory's) is refused, since
    loading would have to run the code the file names.
    The weights must be exactly those of the model the record builds (a model returned by
    :func:`recalib.fold` is not: save the model before folding). An existing file is replaced
    only with ``force``.
    """
    from safetensors.torch import save_file

    path = Path(path)
    record = record if record is not None else getattr(model, "recalib_record", None)
    if not isinstance(record, ModelRecord):
        raise CheckpointError(f"{type(model).__name__} was not built by recalib.create_model: a checkpoint names a "
                              f"recalib architecture to rebuild, and recalib never imports code because a file "
                              f"names it. For your own model, save its state_dict (safetensors.torch.save_file) "
                              f"and load it in your factory; for a registered architecture, pass "
                              f"record=recalib.record.ModelRecord(arch, block, options, stages)")
    text = json.dumps(record.to_json(), sort_keys=True)
    check_destinations([path], force)
    state = model.state_dict()
    _check_fit(record, {k: tuple(v.shape) for k, v in state.items()}, None, "the model to save",
               "a model returned by recalib.fold (or changed after create_model) cannot be rebuilt from its "
               "record, so it would never load: save the model before folding")
    metadata = {"format": FORMAT, "recalib_version": __version__, "spec": text}
    # safetensors refuses tensors that share storage (tied weights); a copy of each is exact.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
    with staging(path.parent) as stage:
        try:
            save_file(tensors, str(stage.file(path)), metadata=metadata)
        except OSError as exc:
            raise CheckpointError(f"cannot save {path}: {exc}") from exc
        stage.commit(force)
    return path


def read_record(path: str | Path) -> ModelRecord:
    """The model record stored in a checkpoint, checked, without loading its weights."""
    path = Path(path)
    metadata = _metadata(path)
    spec = metadata["spec"]
    if len(spec) > _SPEC_LIMIT:
        raise CheckpointError(f"{path}: the stored spec is {len(spec)} characters, far more than a model record "
                              f"takes ({quote(spec)}); the file was edited or damaged: save the model again "
                              f"with recalib.save_checkpoint")
    try:
        data = parse_json(spec, f"{path}: the stored spec", CheckpointError)
    except CheckpointError as exc:
        raise CheckpointError(f"{exc}; the file was edited or damaged: save the model again with "
                              f"recalib.save_checkpoint") from None
    return _with_format_1_defaults(ModelRecord.from_json(data, str(path)), metadata["format"])


def _with_format_1_defaults(record: ModelRecord, version: str) -> ModelRecord:
    """A format-1 record with the defaults its model was built with (:data:`FORMAT_1_DEFAULTS`)."""
    if version != FORMAT_1 or record.block is None:
        return record
    try:
        takes = (keyword_names(BLOCKS.get(record.block).builder) or set()) | (
            keyword_names(arch_entry(record.arch).builder) or set())
    except RecalibError:
        return record  # an unknown name: loading says so
    given = set(record.options)
    return record.with_options({key: value for block, key, value, unless in FORMAT_1_DEFAULTS
                                if block in (None, record.block) and key in takes and key not in given
                                and not set(unless) & given})


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    if not os.path.lexists(path):
        raise CheckpointError(f"no checkpoint at {shorten(str(path), PATH_LIMIT)}")
    check_regular(path, sys.maxsize, "checkpoint", CheckpointError)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own untyped errors on malformed headers
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({first_line(exc)}); it is corrupt "
                              f"or another format (recalib never unpickles .pt files)") from exc
    if metadata.get("format") not in (FORMAT, FORMAT_1) or "spec" not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a recalib checkpoint (format "
                              f"{quote(metadata.get('format'))}); save models with recalib.save_checkpoint")
    return metadata


def _header(path: Path) -> tuple[dict[str, tuple[int, ...]], dict[str, str]]:
    """Every tensor's shape and dtype (safetensors' names: ``F32``, ``BOOL``, …) from the file's header:
    nothing is read beyond it."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            slices = {name: f.get_slice(name) for name in f.keys()}
            return ({name: tuple(s.get_shape()) for name, s in slices.items()},
                    {name: str(s.get_dtype()) for name, s in slices.items()})
    except Exception as exc:  # safetensors' own untyped errors
        raise CheckpointError(f"cannot read the tensor list of {path}: {first_line(exc)}") from exc


def _check_dtypes(model: nn.Module, dtypes: dict[str, str], source: str) -> None:
    """Refuse tensors stored in another dtype than the model's: loading would cast them silently."""
    own = {name: _SAFETENSORS_DTYPES.get(t.dtype, str(t.dtype)) for name, t in model.state_dict().items()}
    wrong = sorted(name for name in own if name in dtypes and dtypes[name] != own[name])
    if wrong:
        raise CheckpointError(f"{source}: {len(wrong)} tensor(s) are stored as another dtype than the model's "
                              f"(e.g. {wrong[0]}: {dtypes[wrong[0]]} in the file, {own[wrong[0]]} in the model); "
                              f"recalib does not cast weights silently: save the model again with "
                              f"recalib.save_checkpoint")


def _check_fit(record: ModelRecord, shapes: dict[str, tuple[int, ...]], dtypes: dict[str, str] | None,
               source: str, fix: str) -> None:
    """Build ``record`` on the meta device (no memory) and compare its tensors with ``shapes`` (and ``dtypes``)."""
    try:
        model = record.create_on_meta()
    except RecalibError as exc:
        raise CheckpointError(f"cannot rebuild the architecture of {source} ({record.describe()}): {exc}") from exc
    check_state_shapes(model, shapes, source, fix)
    if dtypes is not None:
        _check_dtypes(model, dtypes, source)


def load_checkpoint(path: str | Path, *, arch: str | None = None) -> nn.Module:
    """Rebuild the model saved at ``path`` and load its weights (the model is in train mode).

    ``arch``, when given, is the architecture the caller expects; another one is an error. The
    model remembers where it came from (``model.recalib_checkpoint``), so it is never exported
    over its own checkpoint.
    """
    from safetensors.torch import load_file

    path = Path(path)
    record = read_record(path)
    if arch is not None and record.arch != arch:
        raise CheckpointError(f"{path} holds a {record.arch!r} model, not {arch!r}")
    _check_fit(record, *_header(path), str(path), "the file was saved from another model or edited")
    model = record.create()
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot read the weights in {path}: {exc}") from exc
    model.load_state_dict(state, strict=True)
    object.__setattr__(model, "recalib_checkpoint", str(path))
    return model
