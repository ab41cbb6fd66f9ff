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
3. **export**: fold, optimise for the target runtime, export and verify
   (:func:`recalib.export.onnx_export.export_model`, the pipeline of :func:`recalib.export.to_onnx`).
   The weights are checked once, when built; the fold and the float64 truth are made once per
   model (:class:`recalib.export.derived.Derived`) and shared by its exports
   (:func:`recalib.export.export_all.export_all`: one per target the runtimes need) and its
   torch runtimes.

A file spec (an exported ``.onnx``) is taken as it is (:mod:`recalib.export.from_file`).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recalib.errors import ConfigError
from recalib.export.from_file import from_file
from recalib.export.onnx_export import Destination, check_weights, destination, export_model
from recalib.export.options import PrepareOptions
from recalib.export.prepared import Prepared
from recalib.spec import Spec

if TYPE_CHECKING:
    from torch import nn

__all__ = ["build", "calibrate_batchnorm", "draw_identity_gates", "export_prepared", "prepare",
           "CALIBRATION_BATCH", "STATIC_GATE_STD"]

CALIBRATION_BATCH = 8
STATIC_GATE_STD = 0.5  # CC's squash tanh(θ)/2 + 1 then spans about 0.6-1.4, away from the identity


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
    calibrate = spec.kind != "checkpoint" if options.calibrate is None else options.calibrate
    weights: dict[str, Any] = ({"from": "checkpoint", "path": str(spec.path)} if spec.kind == "checkpoint"
                               else {"from": "random", "seed": options.seed})
    if spec.kind != "checkpoint" and draw_identity_gates(model, options.seed):
        weights["identity_gates"] = (f"parameters drawn from N(0, {STATIC_GATE_STD:g}^2) (seed {options.seed}): "
                                     f"a gate of all ones is a multiply a runtime may delete")
    if calibrate:
        calibrate_batchnorm(model, chw, seed=options.seed)
        weights["batchnorm_statistics"] = f"from {CALIBRATION_BATCH} random inputs (seed {options.seed})"
    # The weights as they will be exported, checked once: a checkpoint's NaN weights fail here, not
    # as a parity failure after the work, and the export does not check them again.
    check_weights(model)
    return Prepared(label or spec.text, spec, chw, model.eval(), weights=weights)


def export_prepared(prepared: Prepared, path: Path, options: PrepareOptions = PrepareOptions()) -> Prepared:
    """``prepared`` exported (folded, optimised, verified: ``options.export``) to ``path``; a new
    :class:`Prepared` that shares its fold and float64 truth."""
    return _export(prepared, destination(path, options.export, prepared.spec.inputs), options)


def prepare(spec: Spec, path: Path, options: PrepareOptions = PrepareOptions()) -> Prepared:
    """Build, calibrate and export ``spec`` to ``path`` (with ``<stem>.report.json`` beside it, unless
    ``options.export.write_report`` is off).

    The destinations, and the labelled data's image size (``options.export.verification``), are
    checked first, so they fail before the model is built.
    """
    where = destination(path, options.export, spec.inputs)
    data = options.export.verification.data
    if data is not None:
        data.check_fits(spec.input_chw())
    return _export(build(spec, options), where, options)


def _export(prepared: Prepared, where: Destination, options: PrepareOptions) -> Prepared:
    """The export of a built model to a checked destination; its check inputs are drawn from
    ``options.seed`` unless ``options.export.seed`` names another."""
    if prepared.module is None or prepared.derived is None:
        raise ConfigError(f"{prepared.label} is already an exported file")
    export = options.export if options.export.seed is not None else replace(options.export, seed=options.seed)
    report = export_model(prepared.module, prepared.input_chw, where, export, prepared.derived,
                          {"weights": prepared.weights})
    return replace(prepared, file=Path(report.path), report=report, fixed_batch=export.fixed_batch)
