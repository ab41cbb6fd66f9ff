"""Checkpoints: the architecture spec plus the weights, in one safetensors file.

Format (``recalib-checkpoint/1``): a safetensors file whose tensors are the model's
``state_dict`` and whose string metadata holds ``format``, ``recalib_version`` and ``spec``,
the JSON of ``{"arch", "block", "stages", "options"}`` that :func:`recalib.create_model`
records on every model it builds (``model.recalib_spec``). Loading rebuilds the model from
the spec through the registry and loads the weights strictly. safetensors holds only tensors
and strings, so loading never executes code from the file (unlike pickle-based ``torch.load``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recalib.atomic import check_destinations, staging
from recalib.errors import CheckpointError, RecalibError

__all__ = ["save_checkpoint", "load_checkpoint", "read_spec", "FORMAT"]

FORMAT = "recalib-checkpoint/1"
SPEC_KEYS = ("arch", "block", "stages", "options")


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


def save_checkpoint(model: nn.Module, path: str | Path, *, spec: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s spec and weights to ``path`` atomically; returns the path.

    ``spec`` overrides ``model.recalib_spec`` (needed for models not built by ``create_model``
    only if they are to be rebuilt through the registry).
    """
    from safetensors.torch import save_file

    from recalib import __version__

    path = Path(path)
    metadata = {"format": FORMAT, "recalib_version": __version__, "spec": _spec_json(model, spec)}
    # safetensors refuses tensors that share storage (tied weights); a copy of each is exact.
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    check_destinations([path], True, CheckpointError)
    with staging(path.parent, CheckpointError) as stage:
        try:
            save_file(tensors, str(stage.file(path)), metadata=metadata)
        except OSError as exc:
            raise CheckpointError(f"cannot save {path}: {exc}") from exc
        stage.commit()
    return path


def read_spec(path: str | Path) -> dict[str, Any]:
    """The architecture spec stored in a checkpoint, without loading its weights."""
    return json.loads(_metadata(Path(path))["spec"])


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
    if metadata.get("format") != FORMAT or "spec" not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a recalib checkpoint (format "
                              f"{metadata.get('format')!r}); save models with recalib.save_checkpoint")
    return metadata


def load_checkpoint(path: str | Path, *, arch: str | None = None) -> nn.Module:
    """Rebuild the model saved at ``path`` and load its weights (the model is in train mode).

    ``arch``, when given, is the architecture the caller expects; another one is an error.
    """
    from safetensors.torch import load_file

    from recalib.models import create_model

    path = Path(path)
    spec = json.loads(_metadata(path)["spec"])
    if arch is not None and spec["arch"] != arch:
        raise CheckpointError(f"{path} holds a {spec['arch']!r} model, not {arch!r}")
    try:
        model = create_model(spec["arch"], spec.get("block"), spec.get("stages"), **spec["options"])
    except RecalibError as exc:
        raise CheckpointError(f"cannot rebuild the architecture stored in {path} ({spec}): {exc}") from exc
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"cannot read the weights in {path}: {exc}") from exc
    _load_strict(model, state, path)
    return model


def _load_strict(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load every weight, or say which names and shapes do not match the rebuilt model."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        details = [f"{len(missing)} missing (e.g. {missing[:3]})" if missing else "",
                   f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})" if unexpected else "",
                   f"{len(wrong)} of another shape (e.g. {wrong[0]}: file {tuple(state[wrong[0]].shape)}"
                   f" vs model {tuple(own[wrong[0]].shape)})" if wrong else ""]
        raise CheckpointError(f"the weights in {path} do not fit the architecture it names: "
                              f"{'; '.join(d for d in details if d)}; the file was saved from "
                              f"another model or edited")
    model.load_state_dict(state, strict=True)
