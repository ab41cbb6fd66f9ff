"""ResNet-50 block overheads on the CPU runtimes, for each export target (issue 15's exploration).

    python benchmarks/runtime_targets.py --exports /tmp/r50-exports        # about 30 min on 2 busy cores
    python benchmarks/runtime_targets.py --blocks se --batch 1 --iters 5   # a smoke run

Every model (the plain ResNet-50 and each block's) is exported once per *variant*: ``plain``
(``optimize=False``) and optimised for each target of :data:`export.optimize.TARGETS`. Per
runtime (onnxruntime CPU, OpenVINO CPU) and batch, every export is timed in one fresh worker
process, every model once per round (:func:`deploy.timing.time_alternating`), after a parity
check against PyTorch (:func:`deploy._worker.check_parity`). A block's overhead is against the
plain ResNet-50 exported the same way, in the same run, with its 95% paired-bootstrap interval
(:func:`deploy.stats.ratio`). On OpenVINO, the executed graph
(:func:`deploy.backends.openvino_graph.executed_graph`) then says where each block's time goes.

Untrained CC static maps are all ones (θ = 0), a multiply by 1 that OpenVINO deletes; θ is
drawn at random here so cc-static costs what a trained block would.

Writes ``benchmarks/results/runtime-targets-<machine>-<date>.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from latency import machine_slug

RESULTS = Path(__file__).resolve().parent / "results"
BLOCKS = ("se", "ge-theta-minus:extent=8", "ge-theta", "ms-sar:reduction=16", "cc-reduced", "cc-static",
          "cc-static-scalar")
VARIANTS: dict[str, bool | str] = {"plain": False, "onnxruntime": "onnxruntime", "openvino": "openvino"}
INPUT_CHW = (3, 224, 224)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--blocks", default=",".join(BLOCKS))
    p.add_argument("--variants", default=",".join(VARIANTS), help=f"from {', '.join(VARIANTS)}")
    p.add_argument("--runtimes", default="ort-cpu,openvino-cpu")
    p.add_argument("--batch", default="1,8")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--iters", type=int, default=40, help="timed rounds at batch 1 (iters/4 at larger batches)")
    p.add_argument("--exports", type=Path, default=None, help="folder that keeps the exports between runs")
    p.add_argument("--tag", default="")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--render", type=Path, default=None, metavar="JSON", help="rewrite the .md of a recorded result")
    p.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _file(label: str, variant: str) -> str:
    return f"{label.replace(':', '_').replace('=', '')}.{variant}.onnx"


def build_and_export(args: argparse.Namespace, folder: Path) -> tuple[list[Any], dict[str, dict[str, str]]]:
    """Seeded models (random CC θ) and, per label and variant, the export's path (kept if already there)."""
    import torch

    from deploy.candidates import model_candidates
    from export import to_onnx

    torch.manual_seed(0)
    candidates = model_candidates("resnet50", args.blocks.split(","))
    for candidate in candidates:
        for name, param in candidate.module.named_parameters():
            if name.endswith("theta"):
                param.data.normal_(0.0, 0.5)
    paths: dict[str, dict[str, str]] = {}
    for candidate in candidates:
        for variant in args.variants.split(","):
            path = folder / _file(candidate.label, variant)
            if not path.exists():
                report = to_onnx(candidate.module, INPUT_CHW, path, optimize=VARIANTS[variant], seed=0)
                print(f"[targets] exported {path.name}: {len(report.rewrites)} rewrites", flush=True)
            paths.setdefault(candidate.label, {})[variant] = str(path)
    return candidates, paths


def measure(job: dict[str, Any]) -> dict[str, Any]:
    """In the worker: per batch, parity, alternating timing, ratios per variant, OpenVINO's graphs."""
    from deploy._worker import check_parity
    from deploy.runner import random_input
    from deploy.stats import ratio, summarize
    from deploy.timing import time_alternating

    runtime, out = job["runtime"], []
    keys = [(label, variant) for label in job["labels"] for variant in job["variants"]]
    for batch in job["batches"]:
        runners = [_runner(job, job["paths"][label][variant]) for label, variant in keys]
        x, expected = random_input((1, *INPUT_CHW), seed=1), np.load(job["expected"])
        for (label, variant), runner in zip(keys, runners):
            check_parity(runner, f"{label} [{variant}]", x, expected[label], 1e-5, 1e-3)
        rounds = job["iters"] if batch == 1 else max(8, job["iters"] // 4)
        times = dict(zip(keys, time_alternating([r.prepare((batch, *INPUT_CHW)) for r in runners],
                                                job["warmup"], rounds)))
        del runners
        row: dict[str, Any] = {"batch": batch, "stats": {}, "overhead": {}, "graphs": {}}
        for (label, variant), series in times.items():
            row["stats"][f"{label} [{variant}]"] = summarize(series, batch).to_dict()
            if label != "none":
                row["overhead"][f"{label} [{variant}]"] = ratio(series, times[("none", variant)]).to_dict()
            if runtime == "openvino-cpu":
                row["graphs"][f"{label} [{variant}]"] = _graph(job, job["paths"][label][variant], batch)
        out.append(row)
    return {"runtime": runtime, "results": out}


def _runner(job: dict[str, Any], path: str) -> Any:
    from deploy.runner import create_runner

    return create_runner(job["runtime"], path, threads=job["threads"])


def _graph(job: dict[str, Any], path: str, batch: int) -> dict[str, Any]:
    from deploy.backends.openvino_graph import executed_graph

    graph = executed_graph(path, (batch, *INPUT_CHW), threads=job["threads"], runs=5 if batch == 1 else 3)
    data = graph.to_dict()
    del data["layers"]
    return data


def run_worker(job: dict[str, Any], folder: Path) -> dict[str, Any]:
    """:func:`measure` in a fresh process (no torch thread pool beside the runtime's)."""
    job_path, result_path = folder / f"{job['runtime']}.job.json", folder / f"{job['runtime']}.result.json"
    job_path.write_text(json.dumps(job))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    subprocess.run([sys.executable, __file__, "--worker", str(job_path)], env=env, check=True)
    return dict(json.loads(result_path.read_text()))


def reference_outputs(candidates: list[Any], path: Path) -> None:
    """PyTorch's outputs of every model at batch 1 on the worker's parity input, saved as ``.npz``."""
    from deploy.bench import reference_outputs as outputs
    from deploy.runner import random_input

    expected = outputs(candidates, random_input((1, *INPUT_CHW), seed=1))
    arrays: dict[str, Any] = {c.label: e for c, e in zip(candidates, expected)}
    np.savez(path, **arrays)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from deploy import machine_info

    with tempfile.TemporaryDirectory(prefix="runtime-targets-") as tmp:
        folder = args.exports or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        candidates, paths = build_and_export(args, folder)
        reference_outputs(candidates, Path(tmp) / "expected.npz")
        runs = []
        for runtime in args.runtimes.split(","):
            job = {"runtime": runtime, "labels": list(paths), "variants": args.variants.split(","),
                   "paths": paths, "batches": [int(b) for b in args.batch.split(",")], "threads": args.threads,
                   "warmup": args.warmup, "iters": args.iters, "expected": str(Path(tmp) / "expected.npz")}
            start = [round(v, 2) for v in os.getloadavg()]
            runs.append({**run_worker(job, Path(tmp)), "load_average_start": start,
                         "load_average_end": [round(v, 2) for v in os.getloadavg()]})
            print(f"[targets] {runtime} done, load {start} -> {runs[-1]['load_average_end']}", flush=True)
    return {"machine": machine_info.collect(), "threads": args.threads, "labels": list(paths),
            "variants": args.variants.split(","), "runs": runs,
            "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _pct(o: dict[str, float] | None) -> str:
    """Median overhead, its 95% interval, and the fastest rounds' (least touched by other load)."""
    if o is None:
        return ""
    return (f"{o['overhead_pct']:+.1f}% [{(o['ci_low'] - 1) * 100:+.1f}, {(o['ci_high'] - 1) * 100:+.1f}] "
            f"min {(o['min_ratio'] - 1) * 100:+.1f}%")


def markdown(data: dict[str, Any]) -> str:
    """The overhead table (runtime x variant per block and batch), then OpenVINO's per-type times."""
    columns = [(run["runtime"], v) for run in data["runs"] for v in data["variants"]]
    lines = [f"# ResNet-50 block overheads per CPU runtime and export target ({data['recorded']})", "",
             f"- machine: {data['machine'].get('cpu')}, {data['machine'].get('cores_available')} cores; "
             f"{data['threads']} threads; models alternated per runtime and batch",
             *[f"- {r['runtime']}: load average {r['load_average_start']} -> {r['load_average_end']}"
               for r in data["runs"]], "",
             "Cells: the block's median overhead against the plain ResNet-50 exported the same way (column), its "
             "95% paired-bootstrap interval, and the overhead of the fastest rounds (least touched by other "
             "load; on a busy machine OpenVINO's medians swing between rounds, so its `min` is the steadier "
             "estimate). `none` rows: the plain model's median.", "",
             "| block | batch | " + " | ".join(f"{rt} {v}" for rt, v in columns) + " |",
             "|---|---|" + "---|" * len(columns)]
    batches = [row["batch"] for row in data["runs"][0]["results"]]
    for batch in batches:
        rows = {run["runtime"]: next(r for r in run["results"] if r["batch"] == batch) for run in data["runs"]}
        base = [f"{rows[rt]['stats'][f'none [{v}]']['median_ms']:.1f} ms" for rt, v in columns]
        lines.append(f"| none | {batch} | " + " | ".join(base) + " |")
        for label in data["labels"][1:]:
            cells = [_pct(rows[rt]["overhead"].get(f"{label} [{v}]")) for rt, v in columns]
            lines.append(f"| {label} | {batch} | " + " | ".join(cells) + " |")
    return "\n".join(lines + ["", *_graph_lines(data)]) + "\n"


def _graph_lines(data: dict[str, Any]) -> list[str]:
    """OpenVINO: each model's per-type time difference to the plain ResNet-50 of the same variant."""
    lines = ["## OpenVINO executed graphs", "",
             "Median per-layer times (performance counters) summed by layer type, minus the plain "
             "ResNet-50's of the same variant; reorders = layout conversions that ran.", "",
             "| model | batch | total ms | reorders | extra ms by layer type |", "|---|---|---|---|---|"]
    for run in data["runs"]:
        for row in run["results"]:
            for key, graph in row["graphs"].items():
                base = row["graphs"][f"none [{key.rsplit('[', 1)[1][:-1]}]"]["ms_by_type"]
                diff = {t: graph["ms_by_type"].get(t, 0.0) - base.get(t, 0.0) for t in {*graph["ms_by_type"], *base}}
                extra = ", ".join(f"{t} {d:+.2f}" for t, d in sorted(diff.items(), key=lambda i: -abs(i[1]))
                                  if abs(d) >= 0.05)
                lines.append(f"| {key} | {row['batch']} | {graph['total_ms']:.1f} | {graph['reorders']} | {extra} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker is not None:
        job = json.loads(args.worker.read_text())
        result = measure(job)
        args.worker.with_name(f"{job['runtime']}.result.json").write_text(json.dumps(result))
        return 0
    if args.render is not None:
        args.render.with_suffix(".md").write_text(markdown(json.loads(args.render.read_text())))
        return 0
    data = run(args)
    stem = f"runtime-targets-{machine_slug(data['machine'])}-{data['recorded'][:10]}{'-' + args.tag if args.tag else ''}"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(data, indent=2) + "\n")
    (args.out / f"{stem}.md").write_text(markdown(data))
    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
