"""Record a latency-overhead measurement of blocks on a backbone, with the machine named.

    python benchmarks/latency.py                      # ResNet-50 at 224, batch 1, ort-cpu, 2 threads
    python benchmarks/latency.py --batch 1,8 --runtime ort-cpu,torch-eager

Writes ``benchmarks/results/<arch>-<runtimes>-b<batches>-<machine>-<date>.json`` (the full
:class:`recalib.deploy.results.BenchResult`) and a ``.md`` beside it with the table, the machine and
the load average during the run. Models are prepared like ``recalib bench`` prepares specs
(:mod:`recalib.export.prepare`: each ONNX runtime times the export optimised for it) and alternate
A B C D … in one worker process per runtime: the script is argument parsing, one call of
:func:`recalib.deploy.bench.bench` (what ``recalib bench`` calls) and :func:`record.record`. Blocks
default to the ones issue 6 names: SE, GE-θ⁻ with extent 8, MS-SAR.
"""
from __future__ import annotations

import argparse

from record import add_record_options, now, record

from recalib.deploy.bench import bench
from recalib.deploy.report import format_table
from recalib.deploy.results import BenchResult
from recalib.deploy.settings import BenchSettings
from recalib.deploy.target import parse_targets
from recalib.literals import split_top_level
from recalib.record import ModelRecord
from recalib.spec import parse_spec

DEFAULT_BLOCKS = ("se", "ge-theta-minus:extent=8", "ms-sar")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet50", help="the backbone, a spec (default: resnet50)")
    p.add_argument("--block", action="append", default=None,
                   help=f"a block spec, repeatable (default: {', '.join(DEFAULT_BLOCKS)})")
    p.add_argument("--runtime", default="ort-cpu", help="comma-separated runtimes (default: ort-cpu)")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default: 1)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--note", default="", help="a caveat to record with the result")
    add_record_options(p)
    return p.parse_args(argv)


def markdown(result: BenchResult, title: str, recorded: str, note: str) -> str:
    """The result as a Markdown page: what was run, on what, the table, and the caveats."""
    lines = [f"# {title}", "", f"- recorded: {recorded}", f"- packages: {result.machine.versions()}"]
    if note:
        lines.append(f"- note: {note}")
    return "\n".join(lines + [format_table(result, markdown=True), ""])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = parse_spec(args.arch)
    specs = [base, *(base.with_block(block) for block in args.block or DEFAULT_BLOCKS)]
    runtimes = split_top_level(args.runtime)
    settings = BenchSettings(parse_targets(runtimes), tuple(int(b) for b in split_top_level(args.batch)),
                             warmup=args.warmup, iters=args.iters, threads=args.threads)
    result = bench(specs, settings, progress=lambda message: print(f"[latency] {message}", flush=True))
    recorded = now()
    arch = base.record.arch if isinstance(base.record, ModelRecord) else base.text
    name = f"{arch}-{'-'.join(runtimes)}-b{'-'.join(map(str, settings.batches))}"
    data = {**result.to_json(times=True), "recorded": recorded, "note": args.note}
    title = f"{args.arch} latency overhead of recalibration blocks"
    stem = record(args.out, name, result.machine, recorded, args.tag, data,
                  markdown(result, title, recorded, args.note))
    print(format_table(result))
    print(f"wrote {stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
