"""Every model exported in the forms the runtimes that time it need (:func:`export_all`).

Measured on several runtimes, a model is exported once per target those runtimes need
(``optimize=True``: each runtime's own, :func:`recalib.export.optimize.export_target`), and each
runtime times its own target's file (:meth:`Prepared.file_for`); a model with no target-specific
form is exported once. ``recalib bench``, the latency audit and the benchmarks export this way.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from torch import nn

from recalib.errors import RecalibError
from recalib.export.optimize import export_target, same_for_every_target
from recalib.export.options import PrepareOptions
from recalib.export.prepare import export_prepared
from recalib.export.prepared import Export, Prepared

__all__ = ["export_all"]


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")[:80] or "model"


def _export_forms(module: nn.Module, optimize: bool | str,
                  runtimes: Sequence[str]) -> list[tuple[str | None, tuple[str, ...], list[str]]]:
    """The exports ``runtimes`` need: (target to export for, the targets it serves, its runtimes).

    A target of None is the plain export; every target's is one export when ``module`` has no
    target-specific form. Without runtimes: one export, for
    :data:`recalib.export.optimize.DEFAULT_TARGET` when optimised.
    """
    wanted: dict[str | None, list[str]] = {}
    for runtime in runtimes or [""]:
        wanted.setdefault(export_target(optimize, runtime or None), []).append(runtime)
    if len(wanted) > 1 and same_for_every_target(module):
        targets = tuple(t for t in wanted if t is not None)
        return [(targets[0], targets, [r for users in wanted.values() for r in users])]
    return [(target, (target,) if target else (), users) for target, users in wanted.items()]


def _export_each_form(model: Prepared, stem: Path, options: PrepareOptions, runtimes: Sequence[str]) -> Prepared:
    """``model`` exported once per form ``runtimes`` need (``stem.<target>.onnx`` when several),
    each runtime mapped to its :class:`Export`; ``file`` and ``report`` are the first export's."""
    assert model.module is not None
    forms = _export_forms(model.module, options.export.optimize, runtimes)
    exports: dict[str, Export] = {}
    done: list[Prepared] = []
    for target, served, users in forms:
        suffix = f".{target}" if target and len(forms) > 1 else ""
        export = replace(options.export, optimize=target or False, write_report=False)
        done.append(export_prepared(model, stem.with_name(f"{stem.name}{suffix}.onnx"),
                                    replace(options, export=export)))
        file, report = done[-1].file, done[-1].report
        assert file is not None and report is not None
        exports.update({runtime: Export(file, report, served) for runtime in users if runtime})
    return replace(done[0], exports=exports)


def export_all(models: Sequence[Prepared], folder: Path, options: PrepareOptions = PrepareOptions(), *,
               runtimes: Sequence[str] = (), on_error: Callable[[Prepared, RecalibError], None] | None = None,
               progress: Callable[[str], None] | None = None) -> list[Prepared]:
    """Export every model that is not a file yet into ``folder``; files pass through unchanged.

    ``runtimes`` (backend names) are the ONNX runtimes the exports are for: each gets the
    export of its target (``options.export.optimize``), shared where targets coincide; every
    export of a model reuses its one fold (:attr:`Prepared.derived`). A failure
    raises, unless ``on_error`` is given: then it is reported there and the model is left out
    of the result.
    """
    done = []
    for index, model in enumerate(models):
        if model.module is None:
            done.append(model)
            continue
        try:
            done.append(_export_each_form(model, folder / f"{index}-{_slug(model.label)}", options, runtimes))
        except RecalibError as exc:
            if on_error is None:
                raise
            on_error(model, exc)
        if progress is not None:
            progress(f"exported {model.label}")
    return done
