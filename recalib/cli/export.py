"""``recalib export``: a checkpoint or a registered architecture to one verified ONNX file."""
from __future__ import annotations

import argparse

from recalib.cli._args import add_input_size


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "export", help="export a checkpoint or an architecture to verified ONNX",
        description="Export to ONNX (default domain only), verify it against PyTorch with "
                    "onnxruntime, lint it for TensorRT, and write <stem>.report.json next to it. "
                    "A failed export leaves no file behind.")
    p.add_argument("source", metavar="CHECKPOINT|ARCH",
                   help="a checkpoint saved by recalib.save_checkpoint, or a registered "
                        "architecture name (random weights; see `recalib models`)")
    p.add_argument("-o", "--output", required=True, help="the .onnx file to write")
    p.add_argument("--block", default=None, help="block to insert (with ARCH; see `recalib blocks`)")
    p.add_argument("--batch", default="dynamic", help="'dynamic' (default) or a fixed batch size N")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 18; TensorRT 10.0 reads up to 20)")
    add_input_size(p)
    p.add_argument("--no-fold", action="store_true", help="export without the inference rewrite")
    p.add_argument("--no-optimize", action="store_true",
                   help="export without the exact onnxruntime-layout rewrites of export.optimize")
    p.add_argument("--strict-trt", action="store_true", help="fail on any TensorRT lint finding")
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max relative error vs PyTorch (default 1e-4)")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of a summary")
    p.set_defaults(handler=run)


def _batch(value: str) -> int | None:
    """None for a dynamic batch, else the fixed batch size."""
    from recalib.errors import ConfigError

    if value == "dynamic":
        return None
    if value.isdigit() and int(value) > 0:
        return int(value)
    raise ConfigError(f"--batch must be 'dynamic' or a positive integer, got {value!r}")


def _load_source(args: argparse.Namespace):  # -> tuple[nn.Module, tuple[int, int, int]]
    """The model to export and its (C, H, W), from a checkpoint file or an architecture name."""
    from pathlib import Path

    from recalib.checkpoint import load_checkpoint, read_spec
    from recalib.errors import ConfigError
    from recalib.models import create_model, list_models, model_spec
    from recalib.registry import keyword_names

    is_checkpoint = Path(args.source).is_file() or (args.source not in list_models() and (
        Path(args.source).exists() or args.source.endswith(".safetensors")))
    if is_checkpoint:
        spec = read_spec(args.source)
        if args.block is not None and args.block != spec.get("block"):
            raise ConfigError(f"{args.source} was saved with block {spec.get('block')!r}; "
                              f"drop --block {args.block} (a checkpoint fixes its block)")
        model, arch, options = load_checkpoint(args.source), spec["arch"], spec["options"]
    elif args.source in list_models():
        arch, options = args.source, {}
        # Backbones that size their blocks from input_size are built for the requested size.
        if args.input_size and "input_size" in (keyword_names(model_spec(arch).builder) or set()):
            options["input_size"] = tuple(args.input_size)
        model = create_model(arch, args.block, **options)
    else:
        raise ConfigError(f"{args.source!r} is neither a checkpoint file nor a registered "
                          f"architecture; choose a file or one of: {', '.join(list_models())}")
    nominal = model_spec(arch)
    size = args.input_size or options.get("input_size") or nominal.input_size
    size = (size, size) if isinstance(size, int) else tuple(size)
    return model, (nominal.in_channels, *size)


def run(args: argparse.Namespace) -> int:
    import torch

    from export import DEFAULT_OPSET, check_opset, to_onnx

    opset = check_opset(args.opset if args.opset is not None else DEFAULT_OPSET)
    batch = _batch(args.batch)
    torch.manual_seed(0)  # an ARCH export has random weights: make them reproducible
    model, shape = _load_source(args)
    report = to_onnx(model, shape, args.output, dynamic_batch=batch is None, batch_size=batch or 1,
                     fold=not args.no_fold, optimize=not args.no_optimize, opset=opset, force=args.force,
                     strict_trt=args.strict_trt, tolerance=args.tolerance)
    print(report.to_json() if args.json else report.summary())
    return 0
