"""Latency overhead of recalibration blocks on ResNet-50, before and after ``export.optimize``.

    python benchmarks/overhead.py                     # the issue-7 table (about 20-30 min on 2 cores)
    python benchmarks/overhead.py --quick             # a smoke run: few rounds, batch 1, three blocks

For each block: ResNet-50 at 224 with the block, prepared once (:mod:`export.prepare`: seeded
weights, batch-norm statistics from random inputs) and exported twice from the same module
(dynamic batch, folded): *before* with ``optimize=False`` and *after* with ``optimize=True``;
the plain ResNet-50 is exported both ways too. Per batch size, all these exports are timed in
one onnxruntime CPU run (2 threads, threads spinning only during a run, one worker process)
with :func:`deploy.bench.compare`, every model once per round, so before and after meet the
same load. Every overhead is against the optimised plain ResNet-50 of that run, with its 95%
paired-bootstrap interval; its plain export, in the same run, differs from it only in the
classifier's pooling op (its row shows the difference). torch eager then times the same
modules at that batch, for the speedup of the exported model over the one users would
otherwise run.

Writes ``benchmarks/results/overhead-<machine>-<date>.json`` (every comparison's result, the
export reports' rewrites and parity, onnxruntime's optimised-graph layout counts) and ``.md``
(the before/after table with the issue's targets, and the speedups).
"""
from __future__ import annotations

import argparse
import datetime
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from latency import machine_slug

from deploy.backends.ort import optimized_graph
from deploy.bench import compare
from deploy.report import format_table
from deploy.results import BenchResult
from deploy.settings import BenchSettings
from deploy.target import parse_targets
from export.prepare import PrepareOptions, Prepared, build, export_all
from recalib.atomic import write_atomic
from recalib.workspace import temporary_folder
from recalib.spec import parse_spec, split_top_level

RESULTS = Path(__file__).resolve().parent / "results"
# block spec -> the target (max overhead, percent)
TARGETS: dict[str, float] = {"se": 5, "ge-theta-minus:extent=8": 15, "ge-theta": 15,
                             "ge-theta:extent=8": 15, "ms-sar": 35, "ms-sar:reduction=16": 35,
                             "cc-reduced": 20, "cc-static": 3, "cc-static-scalar": 0}
# What a row's block spec means where the name alone does not say it.
BLOCK_NOTES: dict[str, str] = {
    "ms-sar": "the library's default reduction r = 3, the paper's CIFAR setting (hidden width C/9 per scale): "
              "+13.4M parameters on ResNet-50, whose excitation weights (54 MB) are read at every inference",
    "ms-sar:reduction=16": "r = 16, the paper's ImageNet setting (Table 5: MS-SAR-ResNeXt-50 has 27.6M "
                           "parameters against SE's 27.5M): +2.6M parameters on ResNet-50",
}
QUICK_BLOCKS = ("se", "ge-theta-minus:extent=8", "ms-sar")
BASELINE = "none"
PLAIN = " [plain export]"  # label suffix of a model exported with optimize=False
Log = Callable[[str], None]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--block", action="append", default=None,
                   help=f"a block spec, repeatable (default: {', '.join(TARGETS)})")
    p.add_argument("--batch", default="1,8", help="comma-separated batch sizes (default: 1,8)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-spinning", dest="spinning", action="store_false",
                   help="onnxruntime threads never spin (the default spins during a run only)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--iters", type=int, default=100, help="timed onnxruntime rounds per batch")
    p.add_argument("--eager-iters", type=int, default=20, help="timed torch-eager rounds per batch")
    p.add_argument("--quick", action="store_true", help="batch 1, three blocks, 15 rounds: a smoke run")
    p.add_argument("--tag", default="", help="suffix of the result file names")
    p.add_argument("--out", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    if args.quick:
        args.block, args.batch = list(QUICK_BLOCKS), "1"
        args.warmup, args.iters, args.eager_iters = 3, 15, 5
    return args


def layout_counts(path: Path) -> dict[str, int]:
    """Layout copies and fused convolutions in onnxruntime's optimised graph of ``path``."""
    nodes = optimized_graph(path).node
    ops = Counter(n.op_type for n in nodes if n.domain.endswith("nchwc"))
    return {"reorder_input": ops["ReorderInput"], "reorder_output": ops["ReorderOutput"],
            "nchwc_nodes": sum(ops.values()), "conv_sum_fused": sum(
                1 for n in nodes if n.domain.endswith("nchwc") and n.op_type == "Conv" and len(n.input) > 3),
            "nodes": len(nodes)}


def export_family(models: list[Prepared], optimize: bool, folder: Path,
                  log: Log) -> tuple[list[Prepared], dict[str, Any]]:
    """Every model exported with ``optimize``; the exported models, and what each export did."""
    folder.mkdir(parents=True, exist_ok=True)
    exported = export_all(models, folder, PrepareOptions(optimize=optimize))
    info = {}
    for m in exported:
        assert m.report is not None and m.file is not None
        info[m.label] = {"rewrites": m.report.rewrites, "max_rel_error": m.report.max_rel_error,
                         "ops": m.report.op_histogram, "layout": layout_counts(m.file)}
        log(f"exported {m.label} (optimize={optimize}): {info[m.label]['layout']}")
    return exported, info


def timed(models: list[Prepared], runtime: str, batch: int, args: argparse.Namespace, log: Log) -> BenchResult:
    """One :func:`compare` run on ``runtime`` at ``batch``."""
    ort = runtime.startswith("ort")
    settings = BenchSettings(parse_targets([runtime]), (batch,), warmup=args.warmup if ort else 3,
                             iters=args.iters if ort else args.eager_iters, threads=args.threads,
                             runtime_options={"ort-cpu": {"spinning": args.spinning}} if ort else {})
    result = compare(models, settings, progress=log)
    log(format_table(result))
    return result


def _overhead(result: BenchResult, label: str) -> dict[str, float] | None:
    """Percent overhead of ``label`` (median, interval, fastest rounds); None for the baseline."""
    m = result.measurements[[x.label for x in result.measurements].index(label)]
    interval = m.interval_pct()
    if m.ratio is None or interval is None:
        return None
    return {"ratio": m.ratio.overhead_pct, "ci_low": interval[0], "ci_high": interval[1],
            "min_ratio": (m.ratio.min_ratio - 1) * 100}


def _median(result: BenchResult, label: str) -> float:
    return next(m.stats.p50_ms for m in result.measurements if m.label == label)


def _met(after: dict[str, float] | None, target: float | None, same_graph: bool) -> bool | None:
    """Median overhead within the target; a 0% target means no node left and 0 inside the interval."""
    if after is None or target is None:
        return None
    if target == 0:
        return same_graph and after["ci_low"] <= 0 <= after["ci_high"]
    return after["ratio"] <= target


def summary_rows(runs: dict[str, BenchResult], ops: dict[str, dict[str, int]], labels: list[str],
                 batches: list[int]) -> list[dict[str, Any]]:
    """One row per model and batch: overhead before/after, target, met, speedup over torch eager."""
    rows = []
    for batch in batches:
        ort, eager = runs[f"ort-b{batch}"], runs.get(f"eager-b{batch}")
        for label in labels:
            after, target = _overhead(ort, label), TARGETS.get(label)
            ort_ms, eager_ms = _median(ort, label), None if eager is None else _median(eager, label)
            rows.append({"model": label, "batch": batch, "target_pct": target, "after": after,
                         "before": _overhead(ort, label + PLAIN), "ort_after_ms": ort_ms,
                         "ort_before_ms": _median(ort, label + PLAIN), "eager_ms": eager_ms,
                         "met": _met(after, target, ops[label] == ops[BASELINE]),
                         "speedup": None if eager_ms is None else eager_ms / ort_ms})
    return rows


def _pct(o: dict[str, float] | None) -> str:
    return "baseline" if o is None else f"{o['ratio']:+.1f}% [{o['ci_low']:+.1f}, {o['ci_high']:+.1f}]"


def _run_line(name: str, result: BenchResult) -> str:
    s = result.settings
    return (f"- {name} run: {s.targets[0].name}, {s.warmup} warm-up + {s.iters} rounds; load average "
            f"{result.machine.load_average} -> {result.load_average_end}")


def markdown(data: dict[str, Any], runs: dict[str, BenchResult]) -> str:
    """The result page: machine, runs, the before/after table against the targets, speedups."""
    machine = next(iter(runs.values())).machine
    spin = "spinning during a run" if data["spinning"] else "spinning off"
    lines = ["# ResNet-50 latency overhead of recalibration blocks, before and after export.optimize", "",
             f"- recorded: {data['recorded']}",
             f"- machine: {machine.cpu}, {machine.cores_available} cores available, {machine.os}",
             f"- packages: {machine.versions()}",
             f"- input 224x224, onnxruntime CPU {data['threads']} threads ({spin}), models alternated",
             *(_run_line(name, run) for name, run in runs.items())]
    lines += ["", "Overhead = median latency / median of the plain ResNet-50 (optimize on) in the same run, "
              "with the 95% paired-bootstrap interval; 'before' is the block's export with optimize off, "
              "'after' with it on; row 'none' shows the plain model's own optimize-off export against the "
              "baseline. 'min' compares the fastest rounds. Reorders: layout copies in onnxruntime's "
              "optimised graph.", "",
              "| block | batch | target | before | after | after (min) | met | reorders before -> after | "
              "ORT after ms | torch eager ms | eager / ORT |", "|" + "---|" * 11]
    for r in data["summary"]:
        layout = data["layout"]
        lb, la = layout["before"][r["model"]], layout["after"][r["model"]]
        target = "" if r["target_pct"] is None else f"<= {r['target_pct']:g}%"
        met = "" if r["met"] is None else ("yes" if r["met"] else "no")
        amin = "" if r["after"] is None else f"{r['after']['min_ratio']:+.1f}%"
        eager = "" if r["eager_ms"] is None else f"{r['eager_ms']:.1f}"
        speed = "" if r["speedup"] is None else f"{r['speedup']:.2f}x"
        copies = f"{lb['reorder_input'] + lb['reorder_output']} -> {la['reorder_input'] + la['reorder_output']}"
        lines.append(f"| {r['model']} | {r['batch']} | {target} | {_pct(r['before'])} | {_pct(r['after'])} | "
                     f"{amin} | {met} | {copies} | {r['ort_after_ms']:.1f} | {eager} | {speed} |")
    notes = [f"- `{spec}`: {BLOCK_NOTES[spec]}" for spec in data["labels"] if spec in BLOCK_NOTES]
    if notes:
        lines += ["", "Blocks:", "", *notes]
    lines += ["", "## Runs", ""]
    for name, run in runs.items():
        lines += [f"### {name}", "", format_table(run, markdown=True), ""]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace, log: Log) -> tuple[dict[str, Any], dict[str, BenchResult]]:
    """Export both ways, then per batch time all exports together on onnxruntime, then torch eager."""
    base = parse_spec("resnet50")
    blocks = args.block or list(TARGETS)
    models = [build(base, label=BASELINE), *(build(base.with_block(b), label=b) for b in blocks)]
    runs, exports = {}, {}
    with temporary_folder("overhead-") as tmp:
        after, exports["after"] = export_family(models, True, tmp / "after", log)
        before, exports["before"] = export_family(models, False, Path(tmp) / "before", log)
        # the optimised plain model is the baseline of every ratio; both families alternate in each round
        family = [m for pair in zip(after, [replace(b, label=b.label + PLAIN) for b in before]) for m in pair]
        batches = [int(b) for b in split_top_level(args.batch)]
        for batch in batches:
            runs[f"ort-b{batch}"] = timed(family, "ort-cpu", batch, args, log)
            if args.eager_iters > 0:
                runs[f"eager-b{batch}"] = timed(models, "torch-eager", batch, args, log)
    labels = [m.label for m in models]
    ops = {label: e["ops"] for label, e in exports["after"].items()}
    data = {"threads": args.threads, "spinning": args.spinning, "batches": batches, "labels": labels,
            "layout": {name: {label: e["layout"] for label, e in info.items()} for name, info in exports.items()},
            "exports": exports, "summary": summary_rows(runs, ops, labels, batches),
            "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    return data, runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data, runs = run(args, lambda msg: print(f"[overhead] {msg}", flush=True))
    machine = next(iter(runs.values())).machine
    stem = f"overhead-{machine_slug(machine)}-{data['recorded'][:10]}{'-' + args.tag if args.tag else ''}"
    args.out.mkdir(parents=True, exist_ok=True)
    recorded = {**data, "runs": {name: result.to_json(times=True) for name, result in runs.items()}}
    # A rerun on the same day and machine replaces that day's record.
    write_atomic(args.out / f"{stem}.json", json.dumps(recorded, indent=2, default=str) + "\n", force=True)
    page = markdown(data, runs)
    write_atomic(args.out / f"{stem}.md", page, force=True)
    print(page.split("## Runs")[0])
    print(f"wrote {args.out / stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
