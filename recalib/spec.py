"""One model specification, parsed one way by the Python API and every subcommand.

A model is named by one string:

* ``ARCH[:KEY=VALUE,...][+BLOCK[:KEY=VALUE,...]]``: a registered architecture with backbone
  options, and optionally a block with its options, e.g. ``resnet50:stride_in_1x1=false+se:reduction=8``,
  ``cifar_resnet20+ms-sar:scales=(1,2)``. ``stages=(3,4)`` in the block part restricts the
  insertion points. ``+none`` is no block at all, which removes a backbone's native gate
  (``efficientnet_b0+none``).
* a checkpoint written by :func:`recalib.save_checkpoint` (``.safetensors``, or any existing
  file that is not one of the kinds below): its stored record names the model;
* a user's factory, ``FILE.py:FACTORY[:KEY=VALUE,...]`` or ``package.module:FACTORY[:KEY=VALUE,...]``:
  a function returning an ``nn.Module``, called with those keyword arguments (loading it runs the
  user's code: :mod:`recalib.sources`);
* a ``torch.export`` archive, ``FILE.pt2`` (:mod:`recalib.sources.program`);
* an exported ``.onnx`` file or a TensorRT ``.engine``, where a command measures files;
* a paper configuration by name, ``PAPER/TABLE/ROW`` (:mod:`recalib.paper_configs`, e.g.
  ``ms-sar/table-5/resnext-50-ms-sar``): the network behind a table row, every setting spelled out.

Values are literals (:mod:`recalib.literals`): ``true``/``false``/``none`` in any case, integers,
floats, tuples in ``(…)`` or ``[…]``, quoted strings (``"a,b"``), else bare strings.
:func:`parse_spec` checks every name and option key against the registries before any model is
built, and its errors quote the part that is wrong; :func:`parse_block` parses the
``BLOCK[:KEY=VALUE,...]`` part alone (``--block``). Every kind that builds a model resolves to
one record (``Spec.record``, a :class:`~recalib.record.Record`: a
:class:`~recalib.record.ModelRecord` for recalib's own models, a
:class:`~recalib.sources.factory.FactoryRecord` or :class:`~recalib.sources.program.ProgramRecord`
for others'), which builds it and says which input it takes.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recalib.blocks import BLOCKS, NO_BLOCK
from recalib.checkpoint import load_checkpoint, read_record
from recalib.entries import check_options, keyword_names
from recalib.errors import ConfigError, RecalibError, quote, shorten
from recalib.infra.memory import check_fits
from recalib.infra.meta import estimate_memory
from recalib.infra.reading import check_regular
from recalib.literals import parse_value, scan, split_top_level
from recalib.models.catalog import MODELS, arch_entry
from recalib.paper_configs import NAME_PATTERN, get_paper_config
from recalib.record import ModelRecord, Record
from recalib.sources.factory import FactoryRecord
from recalib.sources.program import ProgramRecord

if TYPE_CHECKING:
    from torch import nn

__all__ = ["Spec", "parse_spec", "parse_block", "FILE_KINDS"]

FILE_KINDS = {".onnx": "onnx", ".engine": "engine", ".safetensors": "checkpoint", ".pt2": "program"}
_KINDS = {"arch": "an architecture", "checkpoint": "a checkpoint", "onnx": "an exported ONNX file",
          "engine": "a TensorRT engine", "paper": "a paper configuration", "factory": "your own model (a factory)",
          "program": "a torch.export program"}
# create_model's own arguments: written as +BLOCK and the block's stages=(...), not as options.
_BACKBONE_ONLY = ("block", "stages")


def _parse_part(part: str, what: str, whole: str) -> tuple[str, dict[str, Any]]:
    """``NAME[:KEY=VALUE,...]`` → ``(name, options)``; errors quote ``whole``."""
    name, _, rest = part.partition(":")
    name = name.strip()
    if not name:
        raise ConfigError(f"{whole!r}: the {what} name is missing; write NAME[:KEY=VALUE,...]")
    options: dict[str, Any] = {}
    for item in split_top_level(rest) if rest.strip() else []:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(f"{whole!r}: {item!r} in the options of {what} {name!r} is not KEY=VALUE "
                              f"(e.g. {name}:reduction=8)")
        if key in options:
            raise ConfigError(f"{whole!r}: option {key!r} of {what} {name!r} is given twice")
        options[key] = parse_value(value)
    return name, options


def _block_part(part: str, whole: str) -> tuple[str, dict[str, Any], tuple[int, ...] | None]:
    """``BLOCK[:KEY=VALUE,...]`` → ``(name, options, stages)``, names checked; errors quote ``whole``.

    ``none`` (:data:`~recalib.blocks.NO_BLOCK`, no block at all) takes no options.
    """
    name, options = _parse_part(part, "block", whole)
    if name == NO_BLOCK:
        if options:
            raise ConfigError(f"in {whole!r}: block {NO_BLOCK!r} means no block at all and takes no options; "
                              f"drop {', '.join(options)}")
        return name, options, None
    stage_value = options.pop("stages", None)
    stages = _stages(stage_value, whole) if stage_value is not None else None
    _check_part(BLOCKS.get, name, options, "block", whole)
    return name, options, stages


def parse_block(text: str) -> tuple[str, dict[str, Any]]:
    """``"ge-theta-minus:extent=8"`` → ``("ge-theta-minus", {"extent": 8})``, names checked.

    ``stages=(…)`` stays among the options: :func:`recalib.create_model` takes it by that name.
    """
    name, options, stages = _block_part(text, text)
    return name, options if stages is None else {**options, "stages": stages}


def _check_part(lookup: Any, name: str, options: Mapping[str, Any], what: str, whole: str) -> None:
    """Unknown names and option keys fail here, before any model is built, quoting ``whole``."""
    try:
        entry = lookup(name)
        reserved = sorted(set(options) & set(_BACKBONE_ONLY)) if what == "architecture" else []
        if reserved:
            raise ConfigError(f"{', '.join(reserved)} is not an option of the architecture; write "
                              f"the block as +BLOCK, with stages=(...) among the block's options")
        check_options(entry, options)
    except RecalibError as exc:
        raise ConfigError(f"in {whole!r}: {exc}") from None


@dataclass(frozen=True)
class Spec:
    """A parsed model specification (see the module docstring).

    ``record`` is the model to build (a :class:`~recalib.record.Record`) for the kinds that build
    one (an architecture, a paper configuration, a checkpoint, a factory, a program); ``path`` is
    set for file kinds.
    """

    text: str
    kind: str
    record: Record | None = None
    path: Path | None = None

    @property
    def is_file(self) -> bool:
        return self.path is not None

    @property
    def inputs(self) -> list[Path]:
        """The files this spec reads (an exported model's report, a factory's file included): never to be
        written over."""
        if isinstance(self.record, FactoryRecord) and self.record.file is not None:
            return [self.record.file]
        if self.path is None:
            return []
        return [self.path, self.path.with_suffix(".report.json")] if self.kind == "onnx" else [self.path]

    @property
    def builds(self) -> bool:
        """Whether a PyTorch module can be built from it (``onnx``/``engine`` files cannot)."""
        return self.kind not in ("onnx", "engine")

    @property
    def fixed_batch(self) -> int | None:
        """The one batch the model runs, where it has one (a program exported with a static batch)."""
        return self.record.fixed_batch if isinstance(self.record, ProgramRecord) else None

    def with_block(self, block: str) -> Spec:
        """This architecture with ``block`` (``BLOCK[:KEY=VALUE,...]``) inserted."""
        record = self.record
        if self.kind == "checkpoint" and isinstance(record, ModelRecord):
            raise ConfigError(f"{self.text} was saved with block {record.block!r}: a checkpoint fixes its "
                              f"block; drop --block {block}")
        if self.kind != "arch" or not isinstance(record, ModelRecord) or record.block is not None:
            what = (f"has block {record.block!r} already" if isinstance(record, ModelRecord) and self.kind == "arch"
                    else f"is {_KINDS.get(self.kind)}")
            raise ConfigError(f"--block {block} needs a plain architecture, but {self.text!r} {what}")
        name, options, stages = _block_part(block, block)
        return replace(self, text=f"{self.text}+{block}",
                       record=replace(record.with_options(options, name), stages=stages))

    def with_input_size(self, size: tuple[int, int]) -> Spec:
        """Built for ``size`` (H, W) where the backbone takes ``input_size``; a factory's or a program's
        model takes it as it is (a program's static size must agree).

        A checkpoint or an exported file keeps the size it was made for: another one is refused.
        """
        record = self.record
        if isinstance(record, (FactoryRecord, ProgramRecord)):
            return replace(self, record=record.with_input_size(size))
        if self.kind in ("checkpoint", "paper") and isinstance(record, ModelRecord) \
                and tuple(size) != record.input_chw()[1:]:
            height, width = record.input_chw()[1:]
            fix = ("rebuild and retrain at that size" if self.kind == "checkpoint"
                   else f"build {record.arch} by name at that size")
            raise ConfigError(f"{self.text} holds a model built for {height}x{width} input, not "
                              f"{size[0]}x{size[1]}; drop --input-size (or {fix})")
        if self.kind != "arch" or not isinstance(record, ModelRecord):
            return self
        accepted = keyword_names(arch_entry(record.arch).builder)
        if accepted is not None and "input_size" not in accepted:
            raise ConfigError(f"{record.arch} is built for its nominal size only; drop --input-size")
        given = record.options.get("input_size")
        if given is not None and tuple(given) != tuple(size):
            raise ConfigError(f"{quote(self.text)} sets input_size={tuple(given)}, and --input-size says "
                              f"{size[0]} {size[1]}; give the size once")
        return replace(self, record=record.with_options({"input_size": tuple(size)}))

    def input_chw(self) -> tuple[int, int, int]:
        """``(C, H, W)`` the model takes (its record's :meth:`~recalib.record.Record.input_chw`)."""
        if self.record is None:
            raise ConfigError(f"{self.text} is an exported file; read its input shape from the file")
        return self.record.input_chw()

    def check_fits(self, batch: int) -> None:
        """Refuse, before anything is built, a batch whose forward pass cannot fit in memory here.

        The model is built on the meta device (:mod:`recalib.infra.meta`: shapes only, no memory); an
        exported file is checked by its input alone when it runs (:func:`recalib.export.inputs.random_input`).
        """
        if self.record is None:
            return
        chw = self.record.input_chw()
        model = self.record.create_on_meta(self.text)
        check_fits(estimate_memory(model, (batch, *chw)), f"{self.text} at batch {batch} and {chw[1]}x{chw[2]}",
                   "use a smaller --batch or --input-size")

    def create(self) -> nn.Module:
        """The PyTorch model: built through the registry or by the user's factory, loaded with a checkpoint's
        weights, or a program's module."""
        if self.kind == "checkpoint":
            return load_checkpoint(str(self.path))
        if self.record is None:
            raise ConfigError(f"{self.text} is an exported {self.kind} file, not a PyTorch model; "
                              f"give an architecture, a checkpoint or a factory")
        return self.record.create()


def _stages(value: Any, whole: str) -> tuple[int, ...]:
    items = value if isinstance(value, tuple) else (value,)
    if not items or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in items):
        raise ConfigError(f"in {whole!r}: stages must be stage numbers from 1, e.g. stages=(3,4); got {value!r}")
    return tuple(items)


def _split_block(text: str) -> tuple[str, str | None]:
    """``ARCH…+BLOCK…`` → the two parts; a ``+`` counts only before a name (``1e+3`` is a number)."""
    cuts = [i for i, char, top in scan(text) if top and char == "+" and text[i + 1:i + 2].isalpha()]
    if len(cuts) > 1:
        raise ConfigError(f"{text!r}: one block per model; write ARCH[:OPTIONS]+BLOCK[:OPTIONS]")
    return (text, None) if not cuts else (text[:cuts[0]], text[cuts[0] + 1:])


def _arch_spec(text: str) -> Spec:
    arch_part, block_part = _split_block(text)
    arch, options = _parse_part(arch_part, "architecture", text)
    _check_part(arch_entry, arch, options, "architecture", text)
    if block_part is None:
        return Spec(text, "arch", ModelRecord(arch, None, options))
    block, block_options, stages = _block_part(block_part, text)
    return Spec(text, "arch", ModelRecord(arch, block, {**options, **block_options}, stages))


def _is_dotted(text: str) -> bool:
    return bool(text) and all(part.isidentifier() for part in text.split("."))


def _names_factory(source: str, rest: str) -> bool:
    """Whether ``SOURCE:REST`` names a factory: SOURCE is a ``.py`` file, or a module name that is not an
    architecture followed by a Python name (an architecture's options are KEY=VALUE)."""
    if source.endswith(".py"):
        return True
    return _is_dotted(source) and source not in MODELS and _is_dotted(rest.partition(":")[0].strip())


def _factory_spec(text: str) -> Spec | None:
    """``FILE.py:FACTORY[:K=V,...]`` or ``package.module:FACTORY[:K=V,...]``, else None.

    The module is imported now (the user's code runs) and the arguments checked against the
    factory's signature, so a wrong name fails before any work; the factory is called when built.
    """
    source, sep, rest = text.partition(":")
    if not sep or not _names_factory(source.strip(), rest):
        return None
    factory_part, block_part = _split_block(rest)
    if block_part is not None:
        raise ConfigError(f"{text!r}: +{block_part} inserts a block into recalib's architectures; your factory "
                          f"builds its model as it is (put the block in the model it returns)")
    factory, options = _parse_part(factory_part, "factory", text)
    if not _is_dotted(factory):
        raise ConfigError(f"{text!r}: {factory!r} is not a Python name; write FILE.py:FACTORY[:KEY=VALUE,...]")
    record = FactoryRecord(source.strip(), factory, options)
    record.function()
    return Spec(text, "factory", record)


def parse_spec(text: str) -> Spec:
    """Parse one model specification; names and option keys are checked, no model is built (a factory's
    module is imported)."""
    text = text.strip()
    if not text:
        raise ConfigError("empty model specification; give ARCH[+BLOCK], a checkpoint, a factory "
                          "(FILE.py:FACTORY) or an .onnx file")
    found = _factory_spec(text)  # first: FILE.py:f:weights="w.safetensors" is no checkpoint
    if found is not None:
        return found
    path = Path(text)
    kind = FILE_KINDS.get(path.suffix.lower())
    if kind is not None:
        return _file_spec(text, path, kind)
    try:  # a name first: a file in the current folder named like an architecture does not shadow it
        if NAME_PATTERN.fullmatch(text):
            return Spec(text, "paper", get_paper_config(text).record)
        return _arch_spec(text)
    except ConfigError as exc:
        if _is_file(path):
            return _file_spec(text, path, "checkpoint")
        if "/" in text or "\\" in text:
            raise ConfigError(f"{shorten(text)}: no such file, and not ARCH[+BLOCK] ({exc})") from None
        raise


def _is_file(path: Path) -> bool:
    """Whether ``path`` names an existing file; a text too long to be a path (a long spec) names none."""
    try:
        return path.is_file()
    except OSError:
        return False


def _file_spec(text: str, path: Path, kind: str) -> Spec:
    """The spec of a model file of ``kind`` (by its suffix; a checkpoint when it has none)."""
    if not _is_file(path):
        if os.path.lexists(path):
            check_regular(path, sys.maxsize, "model file")  # says what it is instead (a FIFO, a folder, …)
        raise ConfigError(f"{shorten(text)}: no such file")
    if kind == "checkpoint":
        return Spec(text, "checkpoint", read_record(path), path)
    return Spec(text, kind, ProgramRecord(path) if kind == "program" else None, path)

