"""A ``torch.export`` archive (``FILE.pt2``, written by ``torch.export.save``) as a model record.

:class:`ProgramRecord` builds :class:`ProgramModule`, the program's module with its own weights,
and takes the input the program was exported for: one ``(N, C, H, W)`` tensor. Static sizes are
the program's (``--input-size`` must agree); a dynamic height or width needs ``--input-size``;
a static batch must be 1 (folding and its check run on one image), and makes every export of it
batch 1 only (:attr:`ProgramRecord.fixed_batch`).

``torch.export.load`` unpickles the archive's weights with ``weights_only=False``, which would run
whatever code a crafted file names. recalib forces torch's weights-only unpickler while it loads
(``TORCH_FORCE_WEIGHTS_ONLY_LOAD``) and refuses archives that store pickled Python objects
(custom or opaque constants), so loading a ``.pt2`` reads tensors and a graph, and runs nothing.
"""
from __future__ import annotations

import contextlib
import io
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import nn

from recalib.errors import ConfigError, first_line
from recalib.sources.input_size import check_forward

__all__ = ["ProgramRecord", "ProgramModule", "load_program"]

_FORCE_WEIGHTS_ONLY = "TORCH_FORCE_WEIGHTS_ONLY_LOAD"
_SAVE_HINT = "save the program with torch.export.save(torch.export.export(model, (x,)), 'model.pt2')"


@contextlib.contextmanager
def _weights_only() -> Iterator[None]:
    """Every ``torch.load`` in the block uses the weights-only unpickler, whatever its caller asked."""
    before = os.environ.get(_FORCE_WEIGHTS_ONLY)
    os.environ[_FORCE_WEIGHTS_ONLY] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_FORCE_WEIGHTS_ONLY, None)
        else:
            os.environ[_FORCE_WEIGHTS_ONLY] = before


def _check_archive(data: bytes, where: str) -> None:
    """Refuse what is not a zip archive, and archives holding pickled objects (they would be unpickled)."""
    from torch.export.pt2_archive.constants import CUSTOM_OBJ_FILENAME_PREFIX, OPAQUE_OBJ_FILENAME_PREFIX

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        raise ConfigError(f"{where} is not a torch.export archive (not even a zip file); {_SAVE_HINT}") from None
    pickled = [n for n in names if Path(n).name.startswith((CUSTOM_OBJ_FILENAME_PREFIX, OPAQUE_OBJ_FILENAME_PREFIX))]
    if pickled:
        raise ConfigError(f"{where} stores pickled Python objects ({pickled[0]}); recalib does not unpickle "
                          f"them (that would run code the file names): export the model without custom objects")


def load_program(data: bytes, where: str) -> torch.export.ExportedProgram:
    """The ``ExportedProgram`` in the archive ``data`` (read from ``where``), loaded without running its pickles."""
    _check_archive(data, where)
    try:
        with _weights_only():
            program = torch.export.load(io.BytesIO(data))
    except Exception as exc:
        raise ConfigError(f"{where} is not an ExportedProgram that torch.export.load reads safely "
                          f"({type(exc).__name__}: {first_line(exc)}); {_SAVE_HINT}") from exc
    if not isinstance(program, torch.export.ExportedProgram):
        raise ConfigError(f"{where} holds a {type(program).__name__}, not an ExportedProgram; {_SAVE_HINT}")
    return program


def _input_dims(program: torch.export.ExportedProgram, where: str) -> tuple[int | None, int, int | None, int | None]:
    """The program's one input's dims ``(N, C, H, W)``, None where a dim is dynamic (C never is)."""
    names = list(program.graph_signature.user_inputs)
    values = [n.meta.get("val") for n in program.graph.nodes if n.op == "placeholder" and n.name in names]
    if len(values) != 1 or not isinstance(values[0], torch.Tensor) or values[0].dim() != 4:
        got = ", ".join(f"shape {tuple(v.shape)}" if isinstance(v, torch.Tensor) else type(v).__name__
                        for v in values) or "none"
        raise ConfigError(f"{where} takes {len(values)} input(s) ({got}); recalib measures programs of one "
                          f"(N, C, H, W) tensor: export the model with one image batch as its input")
    batch, channels, height, width = (d if isinstance(d, int) else None for d in values[0].shape)
    if channels is None:
        raise ConfigError(f"{where} has a dynamic channel count; export it with static channels")
    if batch not in (None, 1):
        raise ConfigError(f"{where} runs at batch {batch} only; recalib folds and checks models on one image: "
                          f"export the program at batch 1, or with a dynamic batch (torch.export.Dim)")
    return batch, channels, height, width


class ProgramModule(nn.Module):
    """An ``ExportedProgram``'s module, with its weights, as a module recalib prepares and runs.

    The program fixed train or eval behaviour when it was exported, so :meth:`train` only records
    the mode (the program's module refuses to be switched). It pickles (for worker processes and
    copies) as the archive plus its current tensors, since the module made from a program does not.
    """

    def __init__(self, program: torch.export.ExportedProgram, archive: bytes) -> None:
        super().__init__()
        self.program = program.module()
        self.archive = archive

    def forward(self, x: torch.Tensor) -> Any:
        return self.program(x)

    def train(self, mode: bool = True) -> ProgramModule:
        self.training = mode
        return self

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _rebuild, (self.archive, self.state_dict(), self.training)


def _rebuild(archive: bytes, state: dict[str, torch.Tensor], training: bool) -> ProgramModule:
    module = ProgramModule(load_program(archive, "a torch.export program"), archive)
    module.load_state_dict(state, assign=True)
    dtypes = {t.dtype for t in state.values() if t.is_floating_point()}
    if len(dtypes) == 1:
        module.to(dtypes.pop())  # constants outside the state dict follow the weights' dtype
    return module.train(training)


@dataclass(frozen=True)
class ProgramRecord:
    """The program saved at ``path``; ``input_size`` is ``--input-size`` (H, W), needed where H or W is dynamic."""

    path: Path
    input_size: tuple[int, int] | None = None

    def _load(self) -> tuple[torch.export.ExportedProgram, bytes]:
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"cannot read {self.path}: {exc.strerror or exc}") from None
        return load_program(data, str(self.path)), data

    @cached_property
    def _dims(self) -> tuple[int | None, int, int | None, int | None]:
        return _input_dims(self._load()[0], str(self.path))

    @property
    def fixed_batch(self) -> int | None:
        """1 where the program was exported with a static batch (it runs that batch only), else None."""
        return self._dims[0]

    def input_chw(self) -> tuple[int, int, int]:
        """``(C, H, W)``: the program's static sizes, or ``input_size`` where they are dynamic."""
        _, channels, height, width = self._dims
        if height is None or width is None:
            if self.input_size is None:
                raise ConfigError(f"{self.path} was exported with a dynamic height or width; pass --input-size H W")
            return channels, int(self.input_size[0]), int(self.input_size[1])
        return channels, height, width

    def with_input_size(self, size: tuple[int, int]) -> ProgramRecord:
        """Taking ``size`` (H, W); refused where the program was exported for another static size."""
        _, _, height, width = self._dims
        if (height, width) != (None, None) and (height, width) != tuple(size):
            raise ConfigError(f"{self.path} was exported for {height}x{width} input, not {size[0]}x{size[1]}; drop "
                              f"--input-size (or export the program with a dynamic height and width)")
        return replace(self, input_size=(int(size[0]), int(size[1])))

    def create(self) -> nn.Module:
        """The program's module with its own weights, checked to run at :meth:`input_chw`."""
        module = ProgramModule(*self._load())
        check_forward(module, self.input_chw(), self.describe())
        return module

    def create_on_meta(self, what: str | None = None) -> nn.Module:
        """The program's module with its tensors moved to the meta device (it is read from the file first)."""
        return ProgramModule(*self._load()).to("meta")

    def describe(self) -> str:
        return f"{self.path} (torch.export program)"
