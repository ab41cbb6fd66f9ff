"""The block-overhead table on one GPU: torch eager, torch.compile and CUDA graphs, fp32/fp16/bf16, batch 1/8/32.

    python benchmarks/gpu_overhead.py                   # on a lent GPU machine: ResNet-50, every series
    python benchmarks/gpu_overhead.py --dry-run         # the same code paths on the CPU, in about a minute

Needs torch with CUDA and recalib's own dependencies only (no TensorRT, no onnxruntime-gpu, no
ONNX runtime at all, nothing fetched): every series runs the PyTorch model. The series are
``torch-eager``, ``torch-compile`` (Inductor, freezing) and ``cuda-graphs`` (``torch.compile``
with ``mode="reduce-overhead"``, which captures CUDA graphs and replays them). Each series at
each precision is one :func:`recalib.deploy.bench.bench` call (the plain backbone and each block
alternated in one worker process, every batch, parity judged against PyTorch in that precision
before timing), with ``--repeat`` fresh workers. Work is ordered by what matters most (eager,
then CUDA graphs, then compile; fp16, bf16, then fp32) and, after the first, starts no new
call once ``--budget`` seconds have passed, so the run fits the lent machine's time (8 minutes on an
H100): what did not run is listed with the reason, as is a precision a runtime refuses.
Everything goes to one folder (``--out``): ``gpu-overhead-<machine>-<date>.json`` (every
round) and ``.md`` (the tables, NOISY marks included).
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from record import add_record_options, now, record

from recalib.deploy.bench import bench
from recalib.deploy.report import format_table
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.settings import BenchSettings
from recalib.deploy.target import Target
from recalib.errors import RecalibError
from recalib.spec import parse_spec

__all__ = ["Series", "SERIES", "PRECISIONS", "plan", "main"]

BLOCKS = ("se", "ge-theta-minus:extent=8", "ms-sar")
PRECISIONS = ("fp16", "bf16", "fp32")
BATCHES = (1, 8, 32)


@dataclass(frozen=True)
class Series:
    """One way of running the PyTorch model: a runtime and its compile mode."""

    name: str
    runtime: str
    compile_mode: str | None = None

    def options(self, precision: str) -> RunnerOptions:
        return RunnerOptions(precision=precision, compile_mode=self.compile_mode)


SERIES = (Series("torch-eager", "torch-eager"), Series("cuda-graphs", "torch-compile", "reduce-overhead"),
          Series("torch-compile", "torch-compile"))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet50", help="the backbone (default: resnet50)")
    p.add_argument("--block", action="append", default=None, help=f"repeatable (default: {', '.join(BLOCKS)})")
    p.add_argument("--iters", type=int, default=100, help="timed rounds per batch (default: 100)")
    p.add_argument("--warmup", type=int, default=20, help="untimed rounds per batch (default: 20)")
    p.add_argument("--repeat", type=int, default=1, help="fresh worker processes per call (default: 1)")
    p.add_argument("--budget", type=float, default=420.0,
                   help="seconds after which no new call starts (default: 420, for an 8-minute lease)")
    p.add_argument("--dry-run", action="store_true",
                   help="on the CPU: cifar_resnet20 at 16x16 with SE, fp32 only, batch 1 and 2, a few rounds")
    add_record_options(p)
    return p.parse_args(argv)


def plan(args: argparse.Namespace) -> tuple[str, str, tuple[str, ...], tuple[int, ...]]:
    """(arch spec, device, precisions, batches) of this run; the dry run's are small and on the CPU."""
    if args.dry_run:
        return "cifar_resnet20:input_size=(16,16)", "cpu", ("fp32",), (1, 2)
    return args.arch, "cuda", PRECISIONS, BATCHES


def _call(series: Series, precision: str, device: str, batches: tuple[int, ...], args: argparse.Namespace,
          specs: list[Any]) -> dict[str, Any]:
    """One series at one precision: its result and table, or why it did not run."""
    target = Target(series.runtime, device)
    settings = BenchSettings((target,), batches, warmup=args.warmup, iters=args.iters, threads=1,
                             repeat=args.repeat, runtime_options={series.runtime: series.options(precision)})
    try:
        result = bench(specs, settings, progress=lambda message: print(f"[gpu] {message}", flush=True))
    except RecalibError as exc:
        return {"refused": f"{type(exc).__name__}: {exc}"}
    return {"bench": result.to_json(times=True), "table": format_table(result, markdown=True)}


def markdown(data: dict[str, Any]) -> str:
    """The page: what ran, each call's table (with its NOISY lines), and what did not run."""
    lines = [f"# Block overheads on {data['device']}: torch eager, torch.compile, CUDA graphs", "",
             f"- recorded: {data['recorded']}; {data['seconds']:.0f} s; arch `{data['arch']}`; "
             f"blocks {', '.join(data['blocks'])}; batches {data['batches']}"]
    if data["dry_run"]:
        lines.append("- **dry run on the CPU: the code paths, not a measurement**")
    for key, run in data["runs"].items():
        lines += ["", f"## {key}", ""]
        lines.append(run["table"] if "table" in run else f"not measured: {run['refused']}")
    lines += [""] + [f"- {key} not run: {why}" for key, why in data["not_run"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    arch, device, precisions, batches = plan(args)
    blocks = ("se",) if args.dry_run else tuple(args.block or BLOCKS)
    base = parse_spec(arch)
    specs = [base, *(base.with_block(block) for block in blocks)]
    start = time.perf_counter()
    runs: dict[str, dict[str, Any]] = {}
    not_run: dict[str, str] = {}
    for series in SERIES:
        for precision in precisions:
            key = f"{series.name} {precision}"
            if runs and time.perf_counter() - start > args.budget:  # the first call always runs
                not_run[key] = f"the budget of {args.budget:g} s was spent"
                continue
            runs[key] = _call(series, precision, device, batches, args, specs)
    recorded = now()
    data = {"recorded": recorded, "device": device, "arch": arch, "blocks": list(blocks), "batches": list(batches),
            "dry_run": args.dry_run, "seconds": time.perf_counter() - start, "runs": runs, "not_run": not_run}
    from recalib.deploy.machine_info import collect

    stem = record(Path(args.out), "gpu-overhead", collect(), recorded, args.tag, data, markdown(data))
    print(f"wrote {stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
