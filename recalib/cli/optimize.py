"""``recalib optimize``: an ONNX file from any exporter, with a target's exact rewrites, verified against itself."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from recalib.cli._args import add_input_size, add_output, add_target, add_tolerance, add_verify_data

if TYPE_CHECKING:
    from recalib.export.options import OptimizeOptions


def register(subparsers: argparse._SubParsersAction) -> None:
    from recalib.export.options import OptimizeOptions  # light: the defaults are its

    p = subparsers.add_parser(
        "optimize", help="apply the exact rewrites for a runtime to any ONNX file, verified",
        description="Apply the exact graph rewrites for a target runtime to an ONNX file from any exporter "
                    "(a spatial mean as GlobalAveragePool, an integer nearest upsample with constant scales), "
                    "verify the result against the input graph (run in float64 by the ONNX reference "
                    "implementation) on random inputs or on labelled data (--verify-data), and write it only if "
                    "it is within the bound. Candidates a rewrite recognises but cannot rewrite exactly are left "
                    "as they are and listed with the reason.")
    p.add_argument("input", metavar="IN.onnx", help="the graph to optimise (never written to)")
    add_output(p, "the optimised graph to write (OUT.onnx; never the input)", required=True)
    add_target(p, OptimizeOptions.target)
    add_tolerance(p, "the input graph run in float64 (ONNX reference implementation)",
                  "the input graph's own float32 run on onnxruntime is")
    add_input_size(p, "the graph's own; needed where its H and W are dynamic")
    add_verify_data(p, "parity and top-1 agreement with the input graph, per runtime")
    p.set_defaults(handler=run)


def options(args: argparse.Namespace) -> OptimizeOptions:
    """The request the flags make: a flag not given leaves the record's default; labelled data is
    loaded (and checked) at the size the graph takes, before any work."""
    from dataclasses import replace

    from recalib.cli._args import given
    from recalib.export.labelled import load_labelled
    from recalib.export.optimize_file import input_chw
    from recalib.export.options import OptimizeOptions, Verification

    size = None if args.input_size is None else (args.input_size[0], args.input_size[1])
    request = OptimizeOptions(**given(target=args.target, tolerance=args.tolerance, input_size=size), force=args.force)
    if args.verify_data is None:
        return request
    data = load_labelled(args.verify_data, input_chw(args.input, request.input_size))
    return replace(request, verification=Verification(data))


def run(args: argparse.Namespace) -> int:
    from recalib.export.optimize_file import optimize_file

    report = optimize_file(args.input, args.output, options(args))
    print(report.to_json() if args.json else report.summary())
    return 0
