"""The one preparation step: a model specification to a calibrated model and a verified export.

``recalib export``, ``recalib bench``, the latency audit and the benchmarks all go through
here, in this order:

1. **weights**: a checkpoint's or a ``torch.export`` program's, a user's factory's, or random ones
   drawn from a fixed seed (the global random state is left as it was; a factory is called
   under that seed too). A factory's weights count as random when none of its batch norms
   holds statistics yet (:func:`recalib.norms.is_fresh`): a factory that loads trained weights
   keeps them untouched, as a checkpoint does;
2. **non-degenerate weights** (random weights only): a weight that makes a block do nothing
   makes parity and ablation vacuous and lets a runtime delete the block, so it is redrawn
   from the seed and the export report's ``weights`` says so (:func:`draw_degenerate_weights`).
   An input-independent gate that starts as the identity (CC static maps and scales, ``θ = 0``:
   every entry 1) gets its parameters drawn from ``N(0, STATIC_GATE_STD²)``: a multiply by 1 is
   deleted by a runtime that sees constants (OpenVINO does), so timing would measure no block
   at all, where a trained block costs its multiply. An all-zero weight (timm's
   ``zero_init_last``: the last batch norm of each residual branch starts at zero, so the branch
   and its gate change nothing) is drawn as the layer would be initialised otherwise;
3. **calibration** (random weights only, by default): every batch norm's statistics set from
   a batch of random inputs (frozen look-alikes too, :mod:`recalib.norms`). With fresh statistics
   (mean 0, variance 1) a random deep net's activations grow stage by stage (CIFAR ResNet-56 +
   CC-Reduced reached outputs of 7e4), so parity would test the random model's conditioning
   instead of the export; normalised like a trained net's, outputs stay near 1. Latency and
   counts do not depend on these values;
4. **export**: fold, optimise for the target runtime, export and verify
   (:func:`recalib.export.onnx_export.export_model`, the pipeline of :func:`recalib.export.to_onnx`).
   The weights are checked once, when built; the fold and the float64 truth are made once per
   model (:class:`recalib.export.derived.Derived`) and shared by its exports
   (:func:`recalib.export.export_all.export_all`: one per target the runtimes need) and its
   torch runtimes. A program exported with a static batch is exported for that batch only.

A file spec (an exported ``.onnx``) is taken as it is (:mod:`recalib.export.from_file`); it cannot be
exported again.
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
from recalib.norms import is_fresh, norm_parts
from recalib.spec import Spec

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["build", "calibrate_batchnorm", "draw_degenerate_weights", "export_prepared", "prepare",
           "CALIBRATION_BATCH", "STATIC_GATE_STD", "REDRAWN_SCALE_STD"]

CALIBRATION_BATCH = 8
STATIC_GATE_STD = 0.5  # CC's squash tanh(θ)/2 + 1 then spans about 0.6-1.4, away from the identity
REDRAWN_SCALE_STD = 0.5  # an all-zero norm scale is drawn from N(1, 0.5²): on, and not all alike


def _set_statistics(module: nn.Module, args: tuple[Any, ...]) -> None:
    """Forward pre-hook: a frozen norm's statistics become those of its input batch (what training-mode
    batch norm stores), before it normalises with them."""
    parts = norm_parts(module)
    x = args[0]
    assert parts is not None
    dims = [d for d in range(x.dim()) if d != 1]
    parts.mean.copy_(x.mean(dims))
    parts.var.copy_(x.var(dims, correction=1))


def calibrate_batchnorm(model: nn.Module, input_chw: Sequence[int], *, seed: int = 0,
                        batch: int = CALIBRATION_BATCH) -> nn.Module:
    """Set every batch norm's statistics (frozen look-alikes' too) from ``batch`` random inputs; return
    ``model`` in eval mode."""
    import torch
    from torch import nn

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    frozen = [m for m in model.modules()
              if not isinstance(m, nn.modules.batchnorm._BatchNorm) and norm_parts(m) is not None]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average: after one batch, exactly that batch's statistics
    hooks = [m.register_forward_pre_hook(_set_statistics) for m in frozen]
    model.train()
    try:
        with torch.no_grad():
            model(torch.randn(batch, *input_chw, generator=torch.Generator().manual_seed(seed)))
    finally:
        for bn, momentum in zip(norms, momenta):
            bn.momentum = momentum
        for hook in hooks:
            hook.remove()
    return model.eval()


def _zero_weight(module: nn.Module) -> torch.Tensor | None:
    """The weight of a norm, convolution or linear layer that is all zeros (a branch that does nothing)."""
    from torch import nn

    parts = norm_parts(module)
    weight = parts.weight if parts is not None else (
        module.weight if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)) else None)
    return weight if weight is not None and weight.numel() and not bool(weight.any()) else None


def _redraw_zero(module: nn.Module, weight: torch.Tensor, generator: torch.Generator) -> None:
    """A norm scale from N(1, REDRAWN_SCALE_STD²), a convolution or linear weight as PyTorch initialises it."""
    import math

    import torch
    from torch import nn

    if norm_parts(module) is not None:
        weight.copy_(1 + torch.randn(weight.shape, generator=generator) * REDRAWN_SCALE_STD)
    else:
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)


def draw_degenerate_weights(model: nn.Module, seed: int) -> dict[str, str]:
    """Redraw, in place and from ``seed``, the weights that make a block do nothing: the parameters of every
    input-independent gate that is the identity (all ones), from ``N(0, STATIC_GATE_STD²)``, and every
    all-zero norm, convolution or linear weight (:func:`_redraw_zero`). Returns what the export report's
    weights provenance says of each kind drawn (nothing when none was)."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    gates, zeros = 0, []
    with torch.no_grad():
        for name, module in model.named_modules():
            gate = getattr(module, "constant_gate", None)
            zero = _zero_weight(module)
            if callable(gate) and bool(torch.all(gate() == 1)):
                for parameter in module.parameters(recurse=False):
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * STATIC_GATE_STD)
                gates += 1
            elif zero is not None:
                _redraw_zero(module, zero, generator)
                zeros.append(name)
    notes = {}
    if gates:
        notes["identity_gates"] = (f"parameters drawn from N(0, {STATIC_GATE_STD:g}^2) (seed {seed}): "
                                   f"a gate of all ones is a multiply a runtime may delete")
    if zeros:
        notes["zero_weights"] = (f"{len(zeros)} all-zero weight(s) redrawn (seed {seed}; e.g. {zeros[0]}.weight): "
                                 f"norm scales from N(1, {REDRAWN_SCALE_STD:g}^2), convolution and linear weights as "
                                 f"PyTorch initialises them; a zero-initialised branch, and its gate, change nothing")
    return notes


def _provenance(spec: Spec, model: nn.Module, seed: int) -> tuple[dict[str, Any], bool]:
    """Where the weights came from (the export report's ``weights``), and whether they are random."""
    if spec.kind in ("checkpoint", "program"):
        return {"from": spec.kind, "path": str(spec.path)}, False
    if spec.kind != "factory" or spec.record is None:
        return {"from": "random", "seed": seed}, True
    parts = [p for p in map(norm_parts, model.modules()) if p is not None]
    random = all(is_fresh(p) for p in parts)
    made = ("random (no batch norm holds statistics yet)" if random
            else "the factory's own (its batch norms hold statistics: taken as trained, left as they are)")
    return {"from": "factory", "factory": spec.record.describe(), "seed": seed, "values": made}, random


def build(spec: Spec, options: PrepareOptions = PrepareOptions(), label: str | None = None) -> Prepared:
    """Weights (checkpoint, program, factory or seeded; degenerate ones redrawn), then calibration: a
    :class:`Prepared` without export."""
    import torch

    if not spec.builds:
        return from_file(spec, label)
    chw = spec.input_chw()
    with torch.random.fork_rng():
        torch.manual_seed(options.seed)
        model = spec.create()
    weights, random = _provenance(spec, model, options.seed)
    if random:
        weights.update(draw_degenerate_weights(model, options.seed))
    calibrate = random if options.calibrate is None else options.calibrate
    if calibrate and spec.kind == "program":
        raise ConfigError(f"{spec.text}: a torch.export program's batch norms are fixed in its graph; "
                          f"they cannot be calibrated")
    if calibrate:
        calibrate_batchnorm(model, chw, seed=options.seed)
        weights["batchnorm_statistics"] = f"from {CALIBRATION_BATCH} random inputs (seed {options.seed})"
    # The weights as they will be exported, checked once: a checkpoint's NaN weights fail here, not
    # as a parity failure after the work, and the export does not check them again.
    check_weights(model)
    return Prepared(label or spec.text, spec, chw, model.eval(), weights=weights, fixed_batch=spec.fixed_batch)


def export_prepared(prepared: Prepared, path: Path, options: PrepareOptions = PrepareOptions()) -> Prepared:
    """``prepared`` exported (folded, optimised, verified: ``options.export``) to ``path``; a new
    :class:`Prepared` that shares its fold and float64 truth."""
    return _export(prepared, destination(path, options.export, prepared.spec.inputs), options)


def prepare(spec: Spec, path: Path, options: PrepareOptions = PrepareOptions()) -> Prepared:
    """Build, calibrate and export ``spec`` to ``path`` (with ``<stem>.report.json`` beside it, unless
    ``options.export.write_report`` is off).

    The destinations, and the labelled data's image size (``options.export.verification``), are
    checked first, so they fail before the model is built. An exported file is refused: it is ONNX already.
    """
    if not spec.builds:
        raise ConfigError(f"{spec.text} is an exported {spec.kind} file already: export makes ONNX from PyTorch "
                          f"models (an architecture, a checkpoint, a factory FILE.py:FACTORY or a .pt2 program); "
                          f"time the file as it is with recalib bench")
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
    own = prepared.spec.fixed_batch
    if own is not None and export.fixed_batch not in (None, own):
        raise ConfigError(f"{prepared.label} runs at batch {own} only (its program was exported so); drop "
                          f"--fixed-batch {export.fixed_batch}, or export the program with a dynamic batch")
    export = replace(export, fixed_batch=own) if own is not None else export
    report = export_model(prepared.module, prepared.input_chw, where, export, prepared.derived,
                          {"weights": prepared.weights})
    return replace(prepared, file=Path(report.path), report=report, fixed_batch=export.fixed_batch)
