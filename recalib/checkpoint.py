"""Checkpoints: the architecture spec plus the weights, in one safetensors file.

Format (``recalib-checkpoint/2``): a safetensors file whose tensors are the model's
``state_dict`` and whose string metadata holds ``format``, ``recalib_version`` and ``spec``,
the JSON object ``{"arch", "block", "stages", "options"}`` that :func:`recalib.create_model`
records on every model it builds (``model.recalib_spec``, every effective option included).
safetensors holds only tensors and strings, so loading never executes code from the file
(unlike pickle-based ``torch.load``).

Nothing is trusted before it is checked. Loading validates the stored spec, builds its model
on the meta device (no memory) and compares every tensor's shape with the file's header, and
only then builds the model and reads the weights; saving makes the same comparison, so a model
that cannot be rebuilt from its spec (a folded one, say) is refused instead of written.

Format 1 files stored only the options their user passed. Block defaults that changed since
(:mod:`recalib.models.block_defaults`, the CC EMP reading) are filled in with the values those
files were built with (:data:`FORMAT_1_DEFAULTS`), so they load as they were saved.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from recalib.infra.atomic import check_destinations, staging
from recalib.errors import CheckpointError, RecalibError

__all__ = ["save_checkpoint", "load_checkpoint", "read_spec", "FORMAT", "FORMAT_1", "FORMAT_1_DEFAULTS"]

FORMAT = "recalib-checkpoint/2"
FORMAT_1 = "recalib-checkpoint/1"
SPEC_KEYS = ("arch", "block", "stages", "options")
# (block, option, value, unless): a format-1 spec of ``block`` (None: any block that takes the
# option) without ``option`` (nor any ``unless`` option) was built with ``value``.
FORMAT_1_DEFAULTS: tuple[tuple[str | None, str, Any, tuple[str, ...]], ...] = (
    ("ms-sar", "reduction", 3, ()),
    ("ms-sar", "recalibration", "single-stage", ()),
    ("cmpe-se-folded-3x3", "fold_cols", 16, ("fold_rows",)),
    (None, "emp_coordinates", "unit", ()),
)


def _spec_json(model: nn.Module, spec: dict[str, Any] | None) -> str:
    """The spec as JSON, or a CheckpointError saying why it cannot be stored."""
    spec = spec if spec is not None else getattr(model, "recalib_spec", None)
    if not spec:
        raise CheckpointError(f"{type(model).__name__} has no recalib_spec (it was not built by "
                              f"recalib.create_model); pass spec={{'arch': ..., 'block': ..., "
                              f"'stages': ..., 'options': {{...}}}} to save_checkpoint")
    missing = [k for k in ("arch", "options") if k not in spec]
    if missing:
        raise CheckpointError(f"the architecture spec lacks {', '.join(missing)}: {spec!r}")
    try:
        return json.dumps({k: spec.get(k) for k in SPEC_KEYS}, sort_keys=True)
    except TypeError as exc:
        raise CheckpointError(f"the architecture spec {spec!r} holds a value that is not plain data "
                              f"({exc}); build the model with plain options (numbers, strings, lists)") from exc


def save_checkpoint(model: nn.Module, path: str | Path, *, spec: dict[str, Any] | None = None,
                    force: bool = False) -> Path:
    """Write ``model``'s spec and weights to ``path`` atomically; returns the path.

    ``spec`` overrides ``model.recalib_spec`` (needed for models not built by ``create_model``).
    The weights must be exactly those of the model the spec builds (a model returned by
    :func:`recalib.fold` is not: save the model before folding). An existing file is replaced
    only with ``force``.
    """
    from safetensors.torch import save_file

    from recalib.version import __version__

    path = Path(path)
    text = _spec_json(model, spec)
    check_destinations([path], force)
    state = model.state_dict()
    _check_fit(json.loads(text), {k: tuple(v.shape) for k, v in state.items()}, "the model to save",
               "a model returned by recalib.fold (or changed after create_model) cannot be rebuilt from its "
               "spec, so it would never load: save the model before folding")
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


def read_spec(path: str | Path) -> dict[str, Any]:
    """The architecture spec stored in a checkpoint, checked, without loading its weights."""
    path = Path(path)
    metadata = _metadata(path)
    try:
        spec = json.loads(metadata["spec"])
    except ValueError as exc:
        raise CheckpointError(f"{path}: the stored spec is not valid JSON ({exc}); the file was edited or "
                              f"damaged: save the model again with recalib.save_checkpoint") from None
    return _with_format_1_defaults(_checked(spec, path), metadata["format"])


def _checked(spec: Any, path: Path) -> dict[str, Any]:
    fix = "the file was edited or written by another tool: save the model again with recalib.save_checkpoint"
    if not isinstance(spec, dict):
        raise CheckpointError(f"{path}: the stored spec is a JSON {type(spec).__name__}, not an object "
                              f"{{'arch', 'block', 'stages', 'options'}}; {fix}")
    wrong = [f"{key} (got {spec.get(key)!r})" for key, ok in (
        ("arch", isinstance(spec.get("arch"), str)), ("block", isinstance(spec.get("block"), (str, type(None)))),
        ("stages", spec.get("stages") is None or isinstance(spec.get("stages"), list)),
        ("options", isinstance(spec.get("options", {}), dict))) if not ok]
    if wrong:
        raise CheckpointError(f"{path}: the stored spec has no valid {', '.join(wrong)}: arch is a name, block "
                              f"a name or null, stages a list or null, options an object; {fix}")
    return {"arch": spec["arch"], "block": spec.get("block"), "stages": spec.get("stages"),
            "options": dict(spec.get("options") or {})}


def _with_format_1_defaults(spec: dict[str, Any], version: str) -> dict[str, Any]:
    """A format-1 spec with the defaults its model was built with (:data:`FORMAT_1_DEFAULTS`)."""
    if version != FORMAT_1 or spec["block"] is None:
        return spec
    from recalib.blocks import BLOCKS
    from recalib.entries import keyword_names
    from recalib.models import arch_entry

    try:
        takes = (keyword_names(BLOCKS.get(spec["block"]).builder) or set()) | (
            keyword_names(arch_entry(spec["arch"]).builder) or set())
    except RecalibError:
        return spec  # an unknown name: loading says so
    options = spec["options"]
    for block, key, value, unless in FORMAT_1_DEFAULTS:
        if block in (None, spec["block"]) and key in takes and key not in options and not set(unless) & set(options):
            options[key] = value
    return spec


def _metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}" + (" (it is a directory)" if path.is_dir() else ""))
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as exc:  # safetensors raises its own untyped errors on malformed headers
        raise CheckpointError(f"{path} is not a readable safetensors checkpoint ({exc}); it is corrupt "
                              f"or another format (recalib never unpickles .pt files)") from exc
    if metadata.get("format") not in (FORMAT, FORMAT_1) or "spec" not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a recalib checkpoint (format "
                              f"{metadata.get('format')!r}); save models with recalib.save_checkpoint")
    return metadata


def _header_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Every tensor's shape from the file's header: nothing is read beyond it."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except Exception as exc:  # safetensors' own untyped errors
        raise CheckpointError(f"cannot read the tensor list of {path}: {exc}") from exc


def _check_fit(spec: dict[str, Any], shapes: dict[str, tuple[int, ...]], source: str, fix: str) -> None:
    """Build ``spec`` on the meta device (no memory) and compare its tensors with ``shapes``."""
    from recalib.infra.meta import check_weights, meta_model
    from recalib.models import create_model

    try:
        model = meta_model(lambda: create_model(spec["arch"], spec["block"], spec["stages"], **spec["options"]),
                           f"{spec['arch']} with {spec['options']}")
    except RecalibError as exc:
        raise CheckpointError(f"cannot rebuild the architecture of {source} ({spec}): {exc}") from exc
    check_weights(model, shapes, source, fix)


def load_checkpoint(path: str | Path, *, arch: str | None = None) -> nn.Module:
    """Rebuild the model saved at ``path`` and load its weights (the model is in train mode).

    ``arch``, when given, is the architecture the caller expects; another one is an error. The
    model remembers where it came from (``model.recalib_checkpoint``), so it is never exported
    over its own checkpoint.
    """
    from safetensors.torch import load_file

    from recalib.models import create_model

    path = Path(path)
    spec = read_spec(path)
    if arch is not None and spec["arch"] != arch:
        raise CheckpointError(f"{path} holds a {spec['arch']!r} model, not {arch!r}")
    _check_fit(spec, _header_shapes(path), str(path), "the file was saved from another model or edited")
    model = create_model(spec["arch"], spec["block"], spec["stages"], **spec["options"])
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot read the weights in {path}: {exc}") from exc
    model.load_state_dict(state, strict=True)
    object.__setattr__(model, "recalib_checkpoint", str(path))
    return model
