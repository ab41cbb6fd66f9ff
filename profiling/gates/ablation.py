"""A prepared model with its gates ablated, in every form a runtime times, each ablation checked.

Each exported file of the model (one per target form, :func:`recalib.export.export_all.export_all`)
is ablated on its own (:func:`recalib.export.gates.ablate.ablate`; the same gates by name) and
checked against its original (:func:`recalib.export.gates.check.check_ablation`, bound: the export's
own parity bound). Where every ablated gate is a whole module, the PyTorch module is bypassed too
(:func:`recalib.export.gates.modules.bypass`): torch runtimes then time it, and every ONNX runtime's
output on an ablated file is judged against that module's float64 truth before timing, so graph
surgery and module surgery must agree. An ablated export keeps the report of the export it was
made from (its target forms are the same).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import onnx
from torch import nn

from recalib.errors import ConfigError
from recalib.export.gates.ablate import Ablation, ablate
from recalib.export.gates.check import AblationCheck, check_ablation
from recalib.export.gates.detect import find_gates
from recalib.export.gates.gate import Gate
from recalib.export.gates.modules import bypass
from recalib.export.gates.select import select_gates
from recalib.export.options import DEFAULT_TOLERANCE
from recalib.export.prepared import Export, Prepared
from recalib.export.report import ExportReport

__all__ = ["AblatedFile", "AblatedModel", "ablate_file", "ablated_model", "parity_bound"]


def parity_bound(report: ExportReport | None) -> float:
    """The largest parity bound an export was held to (what rounding alone explains), else the default tolerance."""
    bounds = [p.bound for p in report.parity] if report is not None else []
    return max(bounds, default=DEFAULT_TOLERANCE)


@dataclass(frozen=True)
class AblatedFile:
    """One file with gates ablated: where it came from, what was removed, and the check."""

    source: Path
    ablation: Ablation
    check: AblationCheck


def ablate_file(source: Path, names: Sequence[str], input_chw: Sequence[int], bound: float) -> AblatedFile:
    """The gates of the graph at ``source`` that ``names`` select, ablated and checked (not written)."""
    graph = onnx.load(str(source))
    ablation = ablate(graph, select_gates(find_gates(graph), names))
    return AblatedFile(source, ablation, check_ablation(graph, ablation, input_chw, bound))


@dataclass(frozen=True)
class AblatedModel:
    """A model without some of its gates (``selection``), ready to time beside the original;
    ``torch`` says why PyTorch runtimes cannot time it (None: its module was bypassed)."""

    selection: str
    gates: tuple[Gate, ...]
    files: tuple[AblatedFile, ...]
    prepared: Prepared
    torch: str | None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:60] or "gates"


def _bypassed(original: Prepared, module_gates: Sequence[Gate], names: Sequence[str]) -> tuple[nn.Module | None, str | None]:
    if original.module is None:
        return None, "an exported file has no PyTorch module to bypass its gates in"
    try:
        return bypass(original.module, select_gates(module_gates, names)), None
    except ConfigError as exc:
        return None, str(exc)


def _sources(original: Prepared) -> list[tuple[Path, ExportReport | None]]:
    """Each distinct file ``original`` is timed as, with the report of its export."""
    found: dict[Path, ExportReport | None] = {e.file: e.report for e in original.exports.values()}
    if not found and original.file is not None:
        found[original.file] = original.report
    if not found:
        raise ConfigError(f"{original.label} has no exported file to ablate; export it first")
    return list(found.items())


def ablated_model(original: Prepared, module_gates: Sequence[Gate], names: Sequence[str], selection: str,
                  folder: Path) -> AblatedModel:
    """``original`` (exported) with the gates ``names`` select ablated in each of its files, written into
    ``folder``; ``module_gates`` are the gates found in its module's graph (ignored for a file)."""
    made: dict[Path, tuple[Path, AblatedFile]] = {}
    for source, report in _sources(original):
        done = ablate_file(source, names, original.input_chw, parity_bound(report))
        path = folder / f"{_slug(original.label)}-without-{_slug(selection)}-{len(made)}.onnx"
        onnx.save(done.ablation.model, str(path))
        made[source] = (path, done)
    module, reason = _bypassed(original, module_gates, names)
    files = tuple(done for _, done in made.values())
    prepared = Prepared(f"{original.label} without {selection}", original.spec, original.input_chw, module=module,
                        file=next(iter(made.values()))[0], report=original.report, fixed_batch=original.fixed_batch,
                        weights=original.weights, verified="; ".join(f.check.describe() for f in files),
                        exports={r: Export(made[e.file][0], e.report, e.targets) for r, e in original.exports.items()})
    return AblatedModel(selection, files[0].ablation.gates, files, prepared, reason)
