"""``recalib gates``: the recalibration gates of a model or ``.onnx`` file, located and counted; ablated on request.

Exit status: 0, also when no gate is found (that is an answer); 2 for bad usage, and for
``--ablate`` on a graph without gates or with names that are not gates (the message lists them).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recalib.cli._args import (add_blocks, add_input_size, add_model, add_output, add_seed, add_verification,
                               comma_list, output_path)

if TYPE_CHECKING:
    from recalib.export.options import PrepareOptions
    from recalib.export.prepared import Prepared


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "gates", help="list the recalibration gates of a model or .onnx file, with their cost; ablate them",
        description="Find every recalibration gate (a feature map multiplied by a sigmoid-like function of a "
                    "pooled descriptor of it: SE, hard-sigmoid SE, ECA, GE, CBAM's channel half, recalib's blocks) "
                    "in the model's ONNX graph (a PyTorch model is exported first) and print where each sits "
                    "(module path, ONNX nodes), what it scales, and its parameters and multiply-adds. With "
                    "--ablate, replace the chosen gates by identity (dead branches removed) and check that the "
                    "ablated graph computes something else.")
    add_model(p, files=True)
    add_blocks(p)
    add_input_size(p)
    add_seed(p)
    p.add_argument("--ablate", action="extend", type=comma_list(), default=None, metavar="all|stageN|GATE,...",
                   help="ablate these gates: all, a stage (stage1, … by feature-map size), or gates by name, number "
                        "or enclosing module (layer3); the ablated graph is checked to differ from the original")
    p.add_argument("--ablated", type=output_path, default=None, metavar="PATH.onnx",
                   help="write the ablated graph to PATH.onnx (with --ablate); time it against the original with "
                        "recalib bench ORIGINAL.onnx PATH.onnx")
    add_verification(p, "ablate the plain export, without export.optimize's exact rewrites",
                     target_default="onnxruntime")
    add_output(p, "also write the gates (and the ablation) as JSON to PATH")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from recalib.cli._output import check_output, emit
    from recalib.cli._specs import one_spec, prepare_options
    from recalib.errors import ConfigError
    from recalib.export.prepare import build
    from recalib.infra.atomic import check_destinations
    from recalib.profiling.gates.inventory import inventory
    from recalib.profiling.gates.report import render_inventory

    spec = one_spec(args)
    check_output(args, spec.inputs)
    if args.ablated is not None:
        if not args.ablate:
            raise ConfigError("--ablated writes an ablation: give --ablate all (or a stage, or gate names) too")
        check_destinations([Path(args.ablated)], args.force, spec.inputs)
    spec.check_fits(1)
    options = prepare_options(args)
    prepared = build(spec, options)
    found = inventory(prepared)
    document, text = found.to_json(), render_inventory(found)
    if args.ablate:
        ablation, lines = _ablate(args, prepared, options)
        document["ablation"] = ablation
        text += "\n\n" + lines
    emit(args, document, text, spec.inputs)
    return 0


def _ablate(args: argparse.Namespace, prepared: Prepared, options: PrepareOptions) -> tuple[dict[str, Any], str]:
    """Ablate the gates ``--ablate`` names in the model's export (or its file); write ``--ablated``."""
    from dataclasses import asdict

    from recalib.export.prepare import export_prepared
    from recalib.infra.atomic import write_atomic
    from recalib.infra.workspace import temporary_folder
    from recalib.profiling.gates.ablation import ablate_file, parity_bound

    with temporary_folder("gates-") as folder:
        exported = prepared if prepared.module is None else export_prepared(prepared, folder / "model.onnx", options)
        assert exported.file is not None
        done = ablate_file(exported.file, args.ablate, prepared.input_chw, parity_bound(exported.report))
    if args.ablated is not None:
        write_atomic(args.ablated, done.ablation.model.SerializeToString(), force=args.force,
                     inputs=prepared.spec.inputs)
    lines = [done.ablation.describe(), done.check.describe()]
    if args.ablated is not None and not args.json:
        lines.append(f"wrote {args.ablated}")
    document = {"gates": [g.name for g in done.ablation.gates], "refused": {g.name: g.refused for g in done.ablation.refused},
                "removed_nodes": done.ablation.removed_nodes, "removed_initializers": done.ablation.removed_weights,
                "check": asdict(done.check) | {"differs": done.check.differs}, "written": args.ablated}
    return document, "\n".join(lines)
