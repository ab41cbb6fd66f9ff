"""From parsed arguments to model specifications and preparation settings, the same for every subcommand.

Imported inside handlers only (it loads the registries, hence torch).
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from recalib.cli._args import given
from recalib.errors import ConfigError
from recalib.spec import Spec, parse_spec

if TYPE_CHECKING:
    from recalib.export.options import PrepareOptions, Quantization

__all__ = ["specs", "one_spec", "prepare_options", "optimize_choice", "quantization"]


def _sized(spec: Spec, args: argparse.Namespace) -> Spec:
    size = getattr(args, "input_size", None)
    return spec.with_input_size((size[0], size[1])) if size else spec


def specs(args: argparse.Namespace) -> list[Spec]:
    """``args.model`` (one or several), then MODEL+BLOCK for each ``--block``: compared models."""
    models = args.model if isinstance(args.model, list) else [args.model]
    parsed = [parse_spec(text) for text in models]
    blocks = args.block or []
    if blocks and len(parsed) != 1:
        raise ConfigError(f"--block adds MODEL+BLOCK to one MODEL, but {len(parsed)} models were given; "
                          f"write each as MODEL+BLOCK instead")
    parsed += [parsed[0].with_block(block) for block in blocks]
    return [_sized(spec, args) for spec in parsed]


def one_spec(args: argparse.Namespace) -> Spec:
    """``args.model`` with ``--block`` inserted (commands that take one model)."""
    spec = parse_spec(args.model)
    return _sized(spec.with_block(args.block) if args.block else spec, args)


def optimize_choice(args: argparse.Namespace) -> bool | str | None:
    """``--no-optimize`` -> False, ``--target T`` -> T, neither -> None (the record's default: each
    runtime's own target)."""
    return False if args.no_optimize else args.target


def quantization(args: argparse.Namespace, spec: Spec) -> Quantization | None:
    """The int8 recipe the flags ask for, its calibration images loaded and checked against ``spec``'s input
    (None unless ``--calibration`` is given; ExportOptions refuses int8 without it, and it without int8)."""
    from recalib.export.options import Quantization
    from recalib.export.quantize.calibration import load_calibration

    if args.calibration is None:
        for flag, value in (("--gates-in-float", args.gates_in_float), ("--calibration-method", args.calibration_method)):
            if value:
                raise ConfigError(f"{flag} is an int8 setting: pass --precision int8 --calibration ...")
        return None
    calibration = load_calibration(args.calibration, spec.input_chw(), seed=getattr(args, "seed", None) or 0)
    return Quantization(calibration, **given(gates_in_float=args.gates_in_float, method=args.calibration_method))


def prepare_options(args: argparse.Namespace, **export: Any) -> PrepareOptions:
    """Seed, calibration and export settings from the shared flags; a flag not given leaves the
    record's default. ``export`` adds export settings of the subcommand's own (its fixed batch, …)."""
    from recalib.export.options import ExportOptions, PrepareOptions

    shared = given(fold=False if getattr(args, "no_fold", False) else None, optimize=optimize_choice(args),
                   tolerance=args.tolerance, opset=getattr(args, "opset", None))
    return PrepareOptions(**given(seed=getattr(args, "seed", None)), export=ExportOptions(**shared, **export))
