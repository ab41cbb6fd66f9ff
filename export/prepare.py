"""The one preparation step: a model specification to a calibrated model and a verified export.

``recalib export``, ``recalib bench``, the latency audit and the benchmarks all go through
here, in this order:

1. **weights**: a checkpoint's, or random ones drawn from a fixed seed (the global random
   state is left as it was). An input-independent gate that starts as the identity (CC
   static maps and scales, ``θ = 0``: every entry 1) gets its parameters drawn from
   ``N(0, STATIC_GATE_STD²)`` with the same seed: a multiply by 1 is deleted by a runtime
   that sees constants (OpenVINO does), so timing would measure no block at all, where a
   trained block costs its multiply;
2. **calibration** (random weights only, by default): every batch norm's statistics set from
   a batch of random inputs. With fresh statistics (mean 0, variance 1) a random deep net's
   activations grow stage by stage (CIFAR ResNet-56 + CC-Reduced reached outputs of 7e4), so
   parity would test the random model's conditioning instead of the export; normalised like
   a trained net's, outputs stay near 1. Latency and counts do not depend on these values;
3. **export**: fold, optimise for the target runtime, export and verify (:func:`recalib.export.to_onnx`).
   Measured on several runtimes (:func:`export_all` with ``runtimes``), a model is exported
   once per target those runtimes need (``optimize=True``: each runtime's own,
   :func:`recalib.export.optimize.export_target`), and each runtime times its own target's file
   (:meth:`Prepared.file_for`); a model with no target-specific form is exported once.

A file spec (an exported ``.onnx``) is taken as it is: its input shape comes from the export's
own ``<stem>.report.json``, else from the graph.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recalib.export.inputs import random_input
from recalib.export.labelled import LabelledData
from recalib.export.onnx_file import read_onnx
from recalib.export.onnx_export import DEFAULT_OPSET, check_opset, check_weights, to_onnx
from recalib.export.optimize import check_target, export_target, same_for_every_target
from recalib.export.parity import DEFAULT_TOLERANCE, Reference, Truth, check_tolerance
from recalib.export.report import ExportReport
from recalib.export.verify import Opener
from recalib.infra.atomic import check_destinations, file_path
from recalib.errors import ConfigError, RecalibError
from recalib.spec import Spec

if TYPE_CHECKING:
    import onnx
    from torch import nn

__all__ = ["PrepareOptions", "Prepared", "Export", "build", "calibrate_batchnorm", "draw_identity_gates",
           "export_prepared", "export_all", "prepare", "from_file", "CALIBRATION_BATCH", "STATIC_GATE_STD"]

CALIBRATION_BATCH = 8
STATIC_GATE_STD = 0.5  # CC's squash tanh(θ)/2 + 1 then spans about 0.6-1.4, away from the identity


@dataclass(frozen=True)
class PrepareOptions:
    """How to prepare: weights, calibration and the export's settings.

    ``calibrate`` None means "when the weights are random" (an architecture, not a checkpoint).
    ``fixed_batch`` None exports a dynamic batch. ``optimize``: ``True`` optimises for each
    runtime's own target (one export, :data:`recalib.export.optimize.DEFAULT_TARGET`'s, when no runtime
    is named), a target's name (``"openvino"``) for that one, ``False`` exports plain.
    """

    seed: int = 0
    calibrate: bool | None = None
    fold: bool = True
    optimize: bool | str = True
    tolerance: float = DEFAULT_TOLERANCE
    opset: int = DEFAULT_OPSET
    fixed_batch: int | None = None

    def __post_init__(self) -> None:
        check_tolerance(self.tolerance)
        check_opset(self.opset)
        check_target(self.optimize)
        if self.fixed_batch is not None and (isinstance(self.fixed_batch, bool) or self.fixed_batch < 1):
            raise ConfigError(f"a fixed batch must be a positive integer, got {self.fixed_batch!r}")


@dataclass(frozen=True)
class Export:
    """One export of a model: its file, its report, and the targets whose form it is
    (``()`` for a plain export; several when no block has a target-specific form)."""

    file: Path
    report: ExportReport
    targets: tuple[str, ...]

    def describe(self) -> str:
        return f"optimised for {' and '.join(self.targets)}" if self.targets else "plain"


@dataclass
class Prepared:
    """One model ready to measure: the PyTorch reference and/or its exported file(s).

    ``module`` is the model as built (eval mode), the reference every runtime is judged
    against; None for a file spec. ``file`` (an ``.onnx``, or a TensorRT ``.engine`` given as
    it is) and ``report`` are set once exported (the first export, when there are several).
    ``exports`` maps each runtime to the export it times, where :func:`export_all` exported
    for several runtimes. ``verified`` says how its outputs are checked.
    """

    label: str
    spec: Spec
    input_chw: tuple[int, int, int]
    module: nn.Module | None = None
    file: Path | None = None
    report: ExportReport | None = None
    fixed_batch: int | None = None
    weights: dict[str, Any] = field(default_factory=dict)
    verified: str = "against its float64 PyTorch model on every runtime, before timing"
    exports: dict[str, Export] = field(default_factory=dict)
    _folded: nn.Module | None = field(default=None, repr=False)
    _references: dict[int, Reference] = field(default_factory=dict, repr=False)

    def reference(self, batch: int) -> Reference:
        """The float64 truth every runtime is judged against at ``batch``, computed once per model.

        Copies made by :func:`export_all` share the cache: exports of one model share its truth.
        """
        if self.module is None:
            raise ConfigError(f"{self.label} is an exported file: there is no PyTorch model to judge it by")
        if batch not in self._references:
            self._references[batch] = Truth(self.module).reference(random_input((batch, *self.input_chw), seed=1))
        return self._references[batch]

    def file_for(self, runtime: str) -> Path | None:
        """The file ``runtime`` times: the export made for it, else the one file (None: not exported)."""
        return self.exports[runtime].file if runtime in self.exports else self.file

    def inference(self) -> nn.Module:
        """The folded inference copy of ``module`` (what torch runtimes run), made once."""
        if self.module is None:
            raise ConfigError(f"{self.label} is an exported file: torch runtimes need an architecture "
                              f"or a checkpoint; time the file on an ONNX runtime")
        if self._folded is None:
            from recalib.folding import fold

            self._folded = fold(self.module, self.input_chw)
        return self._folded


def calibrate_batchnorm(model: nn.Module, input_chw: Sequence[int], *, seed: int = 0,
                        batch: int = CALIBRATION_BATCH) -> nn.Module:
    """Set every batch norm's statistics from ``batch`` random inputs; return ``model`` in eval mode."""
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average: after one batch, exactly that batch's statistics
    model.train()
    try:
        with torch.no_grad():
            model(torch.randn(batch, *input_chw, generator=torch.Generator().manual_seed(seed)))
    finally:
        for bn, momentum in zip(norms, momenta):
            bn.momentum = momentum
    return model.eval()


def draw_identity_gates(model: nn.Module, seed: int) -> int:
    """Draw the parameters of every input-independent gate that is the identity (all ones)
    from ``N(0, STATIC_GATE_STD²)`` with ``seed``, in place; return how many gates were drawn."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    drawn = 0
    with torch.no_grad():
        for module in model.modules():
            gate = getattr(module, "constant_gate", None)
            if callable(gate) and bool(torch.all(gate() == 1)):
                for parameter in module.parameters(recurse=False):
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * STATIC_GATE_STD)
                drawn += 1
    return drawn


def build(spec: Spec, options: PrepareOptions = PrepareOptions(), label: str | None = None) -> Prepared:
    """Weights (checkpoint or seeded; identity gates drawn), then calibration: a :class:`Prepared` without export."""
    import torch

    if not spec.builds:
        return from_file(spec, label)
    chw = spec.input_chw()
    with torch.random.fork_rng():
        torch.manual_seed(options.seed)
        model = spec.create()
    check_weights(model)  # a checkpoint's NaN weights fail here, not as a parity failure after the work
    calibrate = spec.kind != "checkpoint" if options.calibrate is None else options.calibrate
    weights: dict[str, Any] = ({"from": "checkpoint", "path": str(spec.path)} if spec.kind == "checkpoint"
                               else {"from": "random", "seed": options.seed})
    if spec.kind != "checkpoint" and draw_identity_gates(model, options.seed):
        weights["identity_gates"] = (f"parameters drawn from N(0, {STATIC_GATE_STD:g}^2) (seed {options.seed}): "
                                     f"a gate of all ones is a multiply a runtime may delete")
    if calibrate:
        calibrate_batchnorm(model, chw, seed=options.seed)
        weights["batchnorm_statistics"] = f"from {CALIBRATION_BATCH} random inputs (seed {options.seed})"
    return Prepared(label or spec.text, spec, chw, model.eval(), weights=weights)


def export_prepared(prepared: Prepared, path: Path, options: PrepareOptions = PrepareOptions(), *,
                    force: bool = False, write_report: bool = True, strict_trt: bool = False,
                    verify_data: LabelledData | None = None,
                    runtimes: Mapping[str, Opener] | None = None) -> Prepared:
    """``prepared`` exported (folded, optimised, verified) to ``path``; a new :class:`Prepared`.

    ``verify_data`` and ``runtimes`` are :func:`recalib.export.to_onnx`'s: labelled data to verify on
    instead of random inputs, and the runtimes to verify on.
    """
    if prepared.module is None:
        raise ConfigError(f"{prepared.label} is already an exported file")
    fixed = options.fixed_batch
    report = to_onnx(prepared.module, prepared.input_chw, path, dynamic_batch=fixed is None,
                     batch_size=fixed or 1, fold=options.fold, optimize=options.optimize, opset=options.opset,
                     force=force, strict_trt=strict_trt, tolerance=options.tolerance,
                     write_report=write_report, seed=options.seed, provenance={"weights": prepared.weights},
                     verify_data=verify_data, runtimes=runtimes)
    return replace(prepared, file=Path(report.path), report=report, fixed_batch=fixed)


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", label).strip("_")[:80] or "model"


def _export_forms(module: nn.Module, optimize: bool | str,
                  runtimes: Sequence[str]) -> list[tuple[str | None, tuple[str, ...], list[str]]]:
    """The exports ``runtimes`` need: (target to export for, the targets it serves, its runtimes).

    A target of None is the plain export; every target's is one export when ``module`` has no
    target-specific form. Without runtimes: one export, for :data:`recalib.export.optimize.DEFAULT_TARGET` when optimised.
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
    forms = _export_forms(model.module, options.optimize, runtimes)
    exports: dict[str, Export] = {}
    done: list[Prepared] = []
    for target, served, users in forms:
        suffix = f".{target}" if target and len(forms) > 1 else ""
        done.append(export_prepared(model, stem.with_name(f"{stem.name}{suffix}.onnx"),
                                    replace(options, optimize=target or False), write_report=False))
        file, report = done[-1].file, done[-1].report
        assert file is not None and report is not None
        exports.update({runtime: Export(file, report, served) for runtime in users if runtime})
    return replace(done[0], exports=exports)


def export_all(models: Sequence[Prepared], folder: Path, options: PrepareOptions = PrepareOptions(), *,
               runtimes: Sequence[str] = (), on_error: Callable[[Prepared, RecalibError], None] | None = None,
               progress: Callable[[str], None] | None = None) -> list[Prepared]:
    """Export every model that is not a file yet into ``folder``; files pass through unchanged.

    ``runtimes`` (backend names) are the ONNX runtimes the exports are for: each gets the
    export of its target (``options.optimize``), shared where targets coincide. A failure
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


def prepare(spec: Spec, path: Path, options: PrepareOptions = PrepareOptions(), *, force: bool = False,
            strict_trt: bool = False, verify_data: LabelledData | None = None,
            runtimes: Mapping[str, Opener] | None = None) -> Prepared:
    """Build, calibrate and export ``spec`` to ``path`` with ``<stem>.report.json`` beside it.

    The destinations, and ``verify_data``'s image size, are checked first, so they fail before
    the model is built. ``verify_data`` and ``runtimes``: see :func:`export_prepared`.
    """
    path = file_path(path)
    check_destinations([path, path.with_suffix(".report.json")], force, spec.inputs)
    if verify_data is not None:
        verify_data.check_fits(spec.input_chw())
    return export_prepared(build(spec, options), path, options, force=force, strict_trt=strict_trt,
                           verify_data=verify_data, runtimes=runtimes)


def _read_report(path: Path) -> dict[str, Any] | None:
    """The export's own ``<stem>.report.json`` beside ``path``, if there is a readable one."""
    try:
        report = json.loads(path.with_suffix(".report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and isinstance(report.get("input_dims"), list) else None


def _graph_dims(graph: onnx.ModelProto, path: Path) -> list[int | str]:
    from recalib.export.inputs import declared_inputs

    inputs = declared_inputs(graph)
    if len(inputs) != 1:
        raise ConfigError(f"{path} has {len(inputs)} inputs; recalib measures models with one input")
    return list(inputs[0][1])


def _figure(value: Any) -> str:
    """A number of a report read from disk, which may say anything."""
    return f"{value:.1e}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "unknown"


def from_file(spec: Spec, label: str | None = None) -> Prepared:
    """An exported ``.onnx`` file as it is, with the input shape of its report, else of its graph."""
    if spec.kind != "onnx" or spec.path is None:
        raise ConfigError(f"{spec.text} is not an .onnx file; TensorRT engines are read by the tensorrt runtime")
    graph = read_onnx(spec.path)  # a damaged or foreign file fails here, before any work
    report = _read_report(spec.path)
    dims = report["input_dims"] if report is not None else _graph_dims(graph, spec.path)
    if len(dims) != 4 or not all(isinstance(d, int) and d > 0 for d in dims[1:]):
        raise ConfigError(f"{spec.path}: input dims {dims} are not (batch, C, H, W) with a static image "
                          f"size; export with recalib export (static H and W)")
    batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else None
    chw = (int(dims[1]), int(dims[2]), int(dims[3]))
    verified = (f"at export ({spec.path.with_suffix('.report.json').name}): max error "
                f"{_figure(report.get('max_rel_error'))}, tolerance {_figure(report.get('tolerance'))}"
                if report is not None else "not checked here (no PyTorch model, no export report)")
    return Prepared(label or spec.text, spec, chw, file=spec.path, fixed_batch=batch, verified=verified)
