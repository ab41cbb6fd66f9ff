"""What recalib's optimised export does to the native gates' cost in EfficientNet-B0 and MobileNetV3-Large (issue 22, item 4).

    python benchmarks/mobile_rewrite.py              # both networks at 224, onnxruntime and OpenVINO, batch 1, 2 runs
    python benchmarks/mobile_rewrite.py --quick      # a smoke run: EfficientNet-B0 at 64x64, onnxruntime, few rounds

For each network, the model with no gate (``ARCH+none``) and the native one (its own SE) are
exported plain (:func:`recalib.export.prepare.prepare`, seeded weights, batch-norm statistics from
random inputs), then each plain file is optimised for each runtime's target by the ONNX-to-ONNX
pass (:func:`recalib.export.optimize_file.optimize_file`, verified against the plain graph). The
four files are timed in one run per runtime, alternated round by round, one thread
(:func:`recalib.deploy.bench.bench`). The gates' overhead is native over no-gate, plain over plain
and optimised over optimised, each a ratio of medians with its 95% paired-bootstrap interval
(:func:`recalib.deploy.stats.ratio`); ``--repeat`` runs it again so the run-to-run spread shows
beside the interval. The rewrites that fired are listed per file. Writes
``benchmarks/results/mobile-rewrite-<machine>-<date>[-tag].json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from record import add_record_options, now, record

from recalib.deploy import machine_info
from recalib.deploy.bench import bench
from recalib.deploy.results import BenchResult
from recalib.deploy.settings import BenchSettings
from recalib.deploy.stats import ratio
from recalib.deploy.target import parse_targets
from recalib.export.optimize import target_for_runtime
from recalib.export.optimize_file import optimize_file
from recalib.export.options import ExportOptions, OptimizeOptions, PrepareOptions
from recalib.export.prepare import prepare
from recalib.infra.workspace import temporary_folder
from recalib.literals import split_top_level
from recalib.spec import parse_spec

ARCHS = ("efficientnet_b0", "mobilenet_v3_large")
QUICK = {"arch": ["efficientnet_b0:input_size=(64,64)"], "runtime": "ort-cpu", "iters": 4, "warmup": 1, "repeat": 1}
FILES = ("none-plain", "native-plain", "none-optimised", "native-optimised")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", action="append", default=None, help=f"a network spec, repeatable (default: {', '.join(ARCHS)})")
    p.add_argument("--runtime", default="ort-cpu,openvino-cpu", help="comma-separated (default: %(default)s)")
    p.add_argument("--batch", default="1", help="comma-separated batch sizes (default: %(default)s)")
    p.add_argument("--iters", type=int, default=100, help="timed rounds per run (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--repeat", type=int, default=2, help="runs per runtime, for the run-to-run spread (default: 2)")
    p.add_argument("--quick", action="store_true", help="EfficientNet-B0 at 64x64, onnxruntime, few rounds: a smoke run")
    add_record_options(p)
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
        args.tag = args.tag or "quick"
    return args


def exported(arch: str, runtime: str, folder: Path) -> tuple[list[Path], list[str]]:
    """The four files of one network for ``runtime`` (:data:`FILES`) and the rewrites that fired on the native one."""
    paths = {name: folder / f"{name}.onnx" for name in FILES}
    plain = PrepareOptions(export=ExportOptions(optimize=False))
    for gate, spec in (("none", parse_spec(arch).with_block("none")), ("native", parse_spec(arch))):
        if not paths[f"{gate}-plain"].exists():
            prepare(spec, paths[f"{gate}-plain"], plain)
    fired: list[str] = []
    for gate in ("none", "native"):
        report = optimize_file(paths[f"{gate}-plain"], paths[f"{gate}-optimised"],
                               OptimizeOptions(target=target_for_runtime(runtime), seed=0, force=True))
        fired = report.graph_pass.fired()
    return [paths[name] for name in FILES], fired


def overheads(times: dict[str, Sequence[float]]) -> dict[str, Any]:
    """The gates' overhead, plain and optimised, from the rounds of one alternated run of :data:`FILES`
    (ms by name), and the share of the plain overhead the optimised export cuts."""
    row: dict[str, Any] = {"median_ms": {n: float(np.median(t)) for n, t in times.items()}}
    for form in ("plain", "optimised"):
        stats = ratio(times[f"native-{form}"], times[f"none-{form}"])
        row[form] = {"pct": 100 * (stats.ratio - 1), "ci": [100 * (stats.ci_low - 1), 100 * (stats.ci_high - 1)]}
    plain, optimised = row["plain"]["pct"], row["optimised"]["pct"]
    row["cut"] = 1 - optimised / plain if plain > 0 else None
    return row


def _times(result: BenchResult, runtime: str, batch: int) -> dict[str, Sequence[float]]:
    labels = [m.label for m in result.models]
    return {name: result.get(runtime, batch, label).times_ms for name, label in zip(FILES, labels)}


def measure(args: argparse.Namespace, arch: str, log: Any) -> dict[str, Any]:
    """Every runtime, batch and run of one network."""
    runs: list[dict[str, Any]] = []
    with temporary_folder("mobile-rewrite-") as folder:
        for target in parse_targets(split_top_level(args.runtime)):
            files, fired = exported(arch, target.runtime, Path(folder))
            batches = tuple(int(b) for b in split_top_level(args.batch))
            settings = BenchSettings((target,), batches, warmup=args.warmup, iters=args.iters, threads=1)
            for run in range(args.repeat):
                result = bench([parse_spec(str(f)) for f in files], settings)
                for batch in batches:
                    row = overheads(_times(result, target.runtime, batch))
                    runs.append({"runtime": target.name, "batch": batch, "run": run, "fired": fired,
                                 "load": list(os.getloadavg()), **row})
                    log(f"{arch} {target.name} b{batch} run {run}: gates +{row['plain']['pct']:.1f}% plain, "
                        f"+{row['optimised']['pct']:.1f}% optimised")
    return {"arch": arch, "runs": runs}


def markdown(data: dict[str, Any]) -> str:
    """The page: one row per network, runtime, batch and run."""
    lines = [f"# Native gates' overhead, plain vs optimised export ({data['recorded']})", "",
             f"Machine: {data['machine']['cpu']}, {data['machine']['cores_available']} cores; 1 thread; "
             f"{data['iters']} alternated rounds per run.", "",
             "| network | runtime | batch | run | load (1 min) | plain [95%] | optimised [95%] | cut | fired |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for network in data["networks"]:
        for r in network["runs"]:
            cut = "n/a" if r["cut"] is None else f"{100 * r['cut']:.0f}%"
            cells = [f"+{r[f]['pct']:.1f}% [{r[f]['ci'][0]:.1f}, {r[f]['ci'][1]:.1f}]" for f in ("plain", "optimised")]
            lines.append(f"| {network['arch']} | {r['runtime']} | {r['batch']} | {r['run']} | {r['load'][0]:.1f} | "
                         f"{cells[0]} | {cells[1]} | {cut} | {'; '.join(r['fired']) or 'none'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = lambda message: print(f"[mobile-rewrite] {message}", flush=True)  # noqa: E731
    networks = [measure(args, arch, log) for arch in args.arch or ARCHS]
    machine = machine_info.collect()
    data = {"recorded": now(), "machine": machine.to_dict(), "iters": args.iters, "networks": networks}
    page = markdown(data)
    stem = record(args.out, "mobile-rewrite", machine, data["recorded"], args.tag, data, page)
    print(page + f"wrote {stem}.md and {stem.name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
