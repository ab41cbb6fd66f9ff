"""``recalib export``: a model specification or a checkpoint to one verified ONNX file."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from recalib.cli._args import (add_blocks, add_input_size, add_model, add_output, add_precision, add_runtime,
                               add_seed, add_verification, add_verify_data)

if TYPE_CHECKING:
    from recalib.export.inputs import Opener


def register(subparsers: argparse._SubParsersAction) -> None:
    from recalib.export.options import ExportOptions  # light: the defaults are theirs

    p = subparsers.add_parser(
        "export", help="export a model or a checkpoint to verified ONNX",
        description="Build the model (random weights from --seed with batch-norm statistics from random "
                    "inputs, or a checkpoint's weights), fold and optimise it, export it to ONNX (default "
                    "domain only), verify it against the float64 PyTorch model with onnxruntime (or --runtime), "
                    "on random inputs or on labelled data (--verify-data), lint it for TensorRT, and write "
                    "<stem>.report.json next to it. A failed export leaves no file behind.")
    add_model(p)
    add_blocks(p)
    add_output(p, "the .onnx file to write", required=True)
    p.add_argument("--fixed-batch", type=int, default=None, metavar="N",
                   help="export for batch N only (default: any batch)")
    p.add_argument("--opset", type=int, default=None,
                   help=f"ONNX opset (default {ExportOptions.opset}; TensorRT 10.0 reads up to 20)")
    add_input_size(p)
    add_seed(p)
    p.add_argument("--no-fold", action="store_true", help="export without the inference rewrite")
    add_verification(p, "export plain, without export.optimize's exact rewrites",
                     target_default="onnxruntime (recorded as the report's target)")
    add_verify_data(p, "top-1 agreement with PyTorch, accuracy and the largest logit error per runtime, "
                       "disagreements with their margins")
    add_runtime(p, "onnxruntime CPU", "that run ONNX files, to verify the export on, ")
    add_precision(p, "int8 writes the QDQ graph, verified after its float32 export on its own bounds")
    p.add_argument("--strict-trt", action="store_true", help="fail on any TensorRT lint finding")
    p.set_defaults(handler=run)


def _runtimes(names: list[str] | None, precision: str) -> dict[str, Opener] | None:
    """The runtimes to verify on, computing in ``precision`` (None: export's own onnxruntime check), refused
    before any work if they cannot."""
    if not names:
        return None
    from recalib.deploy.availability import check_precision, require
    from recalib.deploy.runner import opener
    from recalib.deploy.runner_options import RunnerOptions
    from recalib.deploy.target import parse_targets
    from recalib.errors import ConfigError

    targets = parse_targets(names)
    for target in targets:
        if not target.runs_onnx:
            raise ConfigError(f"--runtime {target.name} runs PyTorch models; an export is verified on runtimes "
                              f"that run the exported file (ort-cpu, openvino-cpu, ort-cuda, tensorrt, …)")
        require(target.runtime, target.device)
        check_precision(target.runtime, precision)
    options = RunnerOptions(precision=precision)
    return {t.name: opener(t.runtime, options, device=t.device) for t in targets}


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from recalib.export.labelled import load_labelled
    from recalib.export.options import Verification
    from recalib.export.prepare import prepare
    from recalib.cli._specs import one_spec, prepare_options, quantization

    spec, runtimes = one_spec(args), _runtimes(args.runtime, args.precision)
    options = prepare_options(args, fixed_batch=args.fixed_batch, force=args.force, strict_trt=args.strict_trt,
                              precision=args.precision, quantization=quantization(args, spec))
    spec.check_fits(max(options.export.verified_batches))
    data = None if args.verify_data is None else load_labelled(args.verify_data, spec.input_chw())
    if data is not None or runtimes is not None:
        options = replace(options, export=replace(options.export, verification=Verification(data, runtimes)))
    prepared = prepare(spec, Path(args.output), options)
    assert prepared.report is not None
    print(prepared.report.to_json() if args.json else prepared.report.summary())
    return 0
