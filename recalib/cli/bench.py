"""``recalib bench``: latency of a backbone with and without blocks, alternated in the same run.

Example: ``recalib bench resnet50 --block se --block ge-theta-minus:extent=8 --runtime ort-cpu
--batch 1,8 --threads 2 --json bench.json`` times the plain ResNet-50 and both variants
A B C A B C …, and prints median, p10/p90, min, spread, throughput, and each variant's latency
overhead over the plain model with its 95% interval.
"""
from __future__ import annotations

import argparse

from recalib.cli._args import add_input_size, comma_ints, comma_names


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bench", help="time a backbone with and without blocks on a runtime",
        description="Time the plain backbone and the backbone with each --block in alternation "
                    "(same run, fixed threads, warm-up, one worker process per runtime), after "
                    "checking each runtime's output against PyTorch. Prints a table and can write "
                    "JSON with machine information.")
    p.add_argument("arch", help="architecture name (see `recalib models`)")
    p.add_argument("--block", action="append", default=[], metavar="NAME[:KEY=VALUE...]",
                   help="block to compare with the plain model; repeatable; options after colons, "
                        "e.g. ge-theta-minus:extent=8")
    p.add_argument("--runtime", default="ort-cpu", type=comma_names,
                   help="comma-separated runtimes: torch-eager, torch-compile, ort-cpu, ort-cuda, "
                        "ort-tensorrt, tensorrt (default: ort-cpu)")
    p.add_argument("--batch", default=[1], type=comma_ints, help="comma-separated batch sizes (default: 1)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: the cores available)")
    p.add_argument("--iters", type=int, default=50, help="timed rounds per batch (default: 50)")
    p.add_argument("--warmup", type=int, default=10, help="untimed rounds first (default: 10)")
    add_input_size(p)
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="backbone option for every compared model, e.g. stride_in_1x1=True")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda for GPU runtimes)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "fp16"),
                   help="torch and TensorRT runtimes: compute precision (default: fp32)")
    p.add_argument("--atol", type=float, default=None,
                   help="parity check: absolute tolerance (default: 1e-5, fp16: 1e-3)")
    p.add_argument("--rtol", type=float, default=None,
                   help="parity check: tolerance relative to the largest PyTorch output "
                        "(default: 1e-3, fp16: 2e-2)")
    p.add_argument("--no-optimize", action="store_true",
                   help="time the plain ONNX export, without export's exact runtime rewrites")
    p.add_argument("--no-spinning", dest="spinning", action="store_false",
                   help="onnxruntime: threads never spin (default: they spin during a run and stop "
                        "when it returns); for machines shared with other work")
    p.add_argument("--json", default=None, metavar="PATH", help="write the full report as JSON")
    p.set_defaults(handler=run)


# fp16 keeps ~3 significant digits, so its outputs may differ from float32 PyTorch far more.
_TOLERANCES = {"fp32": (1e-5, 1e-3), "fp16": (1e-3, 2e-2)}


def _runtime_options(runtime: str, precision: dict[str, str], spinning: bool) -> dict[str, object]:
    """The runner options of ``runtime``: the precision, and spinning for onnxruntime."""
    return {**precision, **({"spinning": spinning} if runtime.startswith("ort-") else {})}


def run(args: argparse.Namespace) -> int:
    import json

    from deploy.bench import BenchConfig, compare
    from deploy.candidates import model_candidates, parse_options
    from deploy.report import format_table
    from recalib.models import model_spec

    spec = model_spec(args.arch)
    input_size = (args.input_size[0], args.input_size[1]) if args.input_size else spec.input_size
    precision = {} if args.precision == "fp32" else {"precision": args.precision}
    atol, rtol = _TOLERANCES[args.precision]
    config = BenchConfig(runtimes=args.runtime, batches=args.batch,
                         input_chw=(spec.in_channels, *input_size), warmup=args.warmup,
                         iters=args.iters, threads=args.threads, device=args.device,
                         atol=atol if args.atol is None else args.atol,
                         rtol=rtol if args.rtol is None else args.rtol,
                         runtime_options={r: _runtime_options(r, precision, args.spinning)
                                          for r in args.runtime},
                         optimize=not args.no_optimize)
    candidates = model_candidates(args.arch, args.block, input_size, parse_options(args.option, "--option"))
    report = compare(candidates, config, progress=lambda msg: print(f"[bench] {msg}", flush=True))
    report["model"] = {"arch": args.arch, "blocks": args.block, "options": args.option,
                       "input_size": list(input_size)}
    print(format_table(report))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(report, handle, indent=2)
        print(f"wrote {args.json}")
    return 0
