"""``recalib profile``: parameters and FLOPs of one model, the recalibration share block by block."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from recalib.cli._args import add_blocks, add_input_size, add_model, add_output


if TYPE_CHECKING:
    from recalib.spec import Spec


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profile", help="count parameters and FLOPs of a model, block by block",
        description="Trace a model once with fvcore (every op counted) and print its "
                    "parameters and FLOPs under a named convention, the share spent in "
                    "recalibration blocks (or, in a model without recalib's blocks, in the gates found in "
                    "its graph), and the totals under every convention. An .onnx file is counted from its "
                    "graph (parameters and mac), with its gates' share.")
    add_model(p, files=True)
    add_blocks(p)
    p.add_argument("--convention", default=None, metavar="NAME",
                   help="counting convention or paper preset (mac, flop, mac-all, se-ge-paper, …); "
                        "default: mac for FLOPs, params for parameters")
    add_input_size(p)
    p.add_argument("--crosscheck", action="store_true",
                   help="also compare the multiply-add core with torch.utils.flop_counter")
    add_output(p, "also write the profile as JSON to PATH")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from recalib.profiling.counting.model_profile import profile_model
    from recalib.profiling.counting.model_profile_text import render
    from recalib.cli._output import check_output, emit
    from recalib.cli._specs import one_spec

    spec = one_spec(args)
    check_output(args, spec.inputs)
    if spec.kind == "onnx":
        return _profile_graph(args, spec)
    spec.check_fits(1)
    result = profile_model(spec, convention=args.convention, check=args.crosscheck)
    emit(args, result.to_json(), render(result), spec.inputs)
    return 0


def _profile_graph(args: argparse.Namespace, spec: Spec) -> int:
    """An ``.onnx`` file: parameters and multiply-adds counted from the graph, and its gates' share."""
    from recalib.cli._output import emit
    from recalib.errors import ConfigError
    from recalib.export.from_file import from_file
    from recalib.profiling.gates.inventory import inventory
    from recalib.profiling.gates.report import render_inventory

    if args.convention not in (None, "mac") or args.crosscheck:
        raise ConfigError(f"{spec.text} is counted from its graph, as mac and params only; drop --convention "
                          f"and --crosscheck, or profile the model it was exported from")
    found = inventory(from_file(spec))
    emit(args, found.to_json(), render_inventory(found), spec.inputs)
    return 0
