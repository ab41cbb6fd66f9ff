"""``recalib export``: a model specification or a checkpoint to one verified ONNX file."""
from __future__ import annotations

import argparse

from recalib.cli._args import add_blocks, add_input_size, add_model, add_output, add_verification


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export a model or a checkpoint to verified ONNX",
        description="Build the model (random weights from --seed with batch-norm statistics from random "
                    "inputs, or a checkpoint's weights), fold and optimise it, export it to ONNX (default "
                    "domain only), verify it against the float64 PyTorch model with onnxruntime, lint it for "
                    "TensorRT, and write <stem>.report.json next to it. A failed export leaves no file behind.")
    add_model(p)
    add_blocks(p)
    add_output(p, "the .onnx file to write", required=True)
    p.add_argument("--fixed-batch", type=int, default=None, metavar="N",
                   help="export for batch N only (default: any batch)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18; TensorRT 10.0 reads up to 20)")
    add_input_size(p)
    p.add_argument("--seed", type=int, default=0, help="seed of random weights (default 0; checkpoints keep theirs)")
    p.add_argument("--no-fold", action="store_true", help="export without the inference rewrite")
    add_verification(p, "export plain, without export.optimize's exact rewrites",
                     target_default="onnxruntime (recorded as the report's target)")
    p.add_argument("--strict-trt", action="store_true", help="fail on any TensorRT lint finding")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from export.prepare import prepare
    from recalib.cli._specs import one_spec, prepare_options

    options = prepare_options(args, fixed_batch=args.fixed_batch)
    prepared = prepare(one_spec(args), Path(args.output), options, force=args.force, strict_trt=args.strict_trt)
    assert prepared.report is not None
    print(prepared.report.to_json() if args.json else prepared.report.summary())
    return 0
