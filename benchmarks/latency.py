"""Record a latency-overhead measurement of blocks on a backbone, with the machine named.

    python benchmarks/latency.py                      # ResNet-50 at 224, batch 1, ort-cpu, 2 threads
    python benchmarks/latency.py --batch 1,8 --runtime ort-cpu,torch-eager

Writes ``benchmarks/results/<arch>-<runtimes>-b<batches>-<machine>-<date>.json`` (the full
:func:`deploy.bench.compare` report) and a ``.md`` beside it with the table, the machine and
the load average during the run. Blocks default to the ones issue 6 names: SE, GE-θ⁻ with
extent 8, MS-SAR. Models alternate A B C D … in one worker process per runtime.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
from pathlib import Path

from deploy.bench import BenchConfig, compare
from deploy.candidates import model_candidates
from deploy.report import format_table
from recalib.models import model_spec

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_BLOCKS = "se,ge-theta-minus:extent=8,ms-sar"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet50")
    p.add_argument("--blocks", default=DEFAULT_BLOCKS, help=f"comma-separated (default: {DEFAULT_BLOCKS})")
    p.add_argument("--runtime", default="ort-cpu", help="comma-separated runtimes (default: ort-cpu)")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default: 1)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--input-size", type=int, nargs=2, default=None, metavar=("H", "W"))
    p.add_argument("--note", default="", help="a caveat to record with the result")
    p.add_argument("--tag", default="", help="suffix of the file names, e.g. preliminary")
    p.add_argument("--out", type=Path, default=RESULTS)
    return p.parse_args(argv)


def machine_slug(machine: dict) -> str:
    """``intel-xeon-processor-2c``: the CPU model and the cores the run could use."""
    cpu = re.sub(r"\((r|tm)\)", "", machine["cpu"].lower())
    cpu = re.sub(r"[^a-z0-9]+", "-", cpu).strip("-")
    return f"{cpu}-{machine['cores_available']}c"


def markdown(report: dict, note: str) -> str:
    """The result as a Markdown page: what was run, on what, the table, and the caveats."""
    m, model = report["machine"], report["model"]
    load_end = report["load_average_end"]
    lines = [f"# {model['arch']} latency overhead of recalibration blocks",
             "", f"- recorded: {report['recorded']}",
             f"- input: {model['input_size'][0]}x{model['input_size'][1]}, blocks: {', '.join(model['blocks'])}",
             f"- machine: {m['cpu']}, {m['cores_available']} cores available, {m['os']}",
             f"- packages: {', '.join(f'{k} {v}' for k, v in m['packages'].items() if v)}",
             f"- load average (1, 5, 15 min): {m['load_average_1_5_15']} at start, {load_end} at end",
             f"- parity (max abs error vs PyTorch): {json.dumps(report['max_abs_error'])}"]
    if note:
        lines.append(f"- note: {note}")
    return "\n".join(lines + ["", format_table(report, markdown=True), ""])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    runtimes, batches = args.runtime.split(","), [int(b) for b in args.batch.split(",")]
    blocks = [b for b in args.blocks.split(",") if b]
    h, w = args.input_size if args.input_size else model_spec(args.arch).input_size
    size = (int(h), int(w))
    candidates = model_candidates(args.arch, blocks, size)
    config = BenchConfig(runtimes=runtimes, batches=batches, input_chw=(3, *size),
                         warmup=args.warmup, iters=args.iters, threads=args.threads)
    report = compare(candidates, config, progress=lambda msg: print(f"[latency] {msg}", flush=True))
    report["model"] = {"arch": args.arch, "blocks": blocks, "input_size": list(size)}
    report["recorded"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    report["note"] = args.note
    stem = (f"{args.arch}-{'-'.join(runtimes)}-b{'-'.join(map(str, batches))}-"
            f"{machine_slug(report['machine'])}-{report['recorded'][:10]}" + (f"-{args.tag}" if args.tag else ""))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(report, args.note))
    print(format_table(report))
    print(f"wrote {args.out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
