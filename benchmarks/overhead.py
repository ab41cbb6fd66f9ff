"""ResNet-50 block overheads per CPU runtime: onnxruntime, OpenVINO, torch eager, torch.compile (issue 15).

    python benchmarks/overhead.py --work /tmp/overhead   # the full table; rerun the same line to resume
    python benchmarks/overhead.py --quick                # a smoke run: batch 1, two blocks, few rounds
    python benchmarks/overhead.py --render benchmarks/results/overhead-<machine>-<date>.json

For each block, ResNet-50 at 224 with the block is prepared once (:mod:`recalib.export.prepare`: seeded
weights, identity gates drawn, batch-norm statistics from random inputs); the plain ResNet-50
too. Each ONNX runtime times two exports of every model: *plain* (``optimize=False``) and
*optimised* for that runtime (``optimize=True``: onnxruntime's form on ``ort-cpu``, OpenVINO's
on ``openvino-cpu``; :func:`recalib.export.optimize.export_target`). torch eager and torch.compile
(Inductor, weights frozen) run the folded modules. Per runtime and batch, one
:func:`recalib.deploy.bench.compare` run in its own worker process times every model of that runtime
alternately (plain and optimised exports in the same rounds), after checking each against
its float64 PyTorch model. A block's overhead is against the plain ResNet-50 of the same run
and export, with its 95% paired-bootstrap interval (:func:`recalib.deploy.stats.ratio`).

Evidence per export: onnxruntime's layout copies (``ReorderInput``/``ReorderOutput`` in its
optimised graph, :func:`recalib.deploy.backends.ort.optimized_graph`) and OpenVINO's executed graph
(reorders, fused layers, per-layer times; :func:`recalib.deploy.backends.openvino_graph.executed_graph`).
The page (:mod:`overhead_report`) names the runtime where each block costs least against the
issue's targets, and the speed-up of the fastest ONNX runtime over torch.compile and eager.

``--work DIR`` keeps every finished run (and the evidence) as JSON in ``DIR``: a rerun with
the same settings loads them instead of measuring again, so an interrupted run resumes.
Writes ``benchmarks/results/overhead-<machine>-<date>[-tag].json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import datetime
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from latency import record, write_pair
from overhead_report import PLAIN, QUICK_BLOCKS, TARGETS, markdown, summarize

from recalib.deploy import machine_info
from recalib.deploy.bench import compare
from recalib.deploy.report import format_table
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.settings import BenchSettings
from recalib.deploy.target import onnx_runtimes, parse_targets
from recalib.export.export_all import export_all
from recalib.export.options import ExportOptions, PrepareOptions
from recalib.export.prepare import build
from recalib.export.prepared import Prepared
from recalib.infra.atomic import write_atomic
from recalib.infra.workspace import temporary_folder
from recalib.literals import split_top_level
from recalib.spec import parse_spec

RESULTS = Path(__file__).resolve().parent / "results"
RUNTIMES = ("ort-cpu", "openvino-cpu", "torch-eager", "torch-compile")
BASELINE = "none"
Log = Callable[[str], None]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="resnet50", help="the backbone, a spec without a block (default: resnet50)")
    p.add_argument("--block", action="append", default=None,
                   help=f"a block spec, repeatable (default: {', '.join(TARGETS)})")
    p.add_argument("--runtime", default=",".join(RUNTIMES), help="comma-separated (default: %(default)s)")
    p.add_argument("--batch", default="1,8", help="comma-separated batch sizes (default: 1,8)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-spinning", dest="spinning", action="store_false",
                   help="onnxruntime threads never spin (the default spins during a run only)")
    p.add_argument("--iters", type=int, default=100, help="timed rounds of the ONNX runtimes at batch 1")
    p.add_argument("--torch-iters", type=int, default=30, help="timed rounds of the torch runtimes at batch 1")
    p.add_argument("--warmup", type=int, default=10, help="warm-up rounds at batch 1")
    p.add_argument("--quick", action="store_true", help="batch 1, two blocks, few rounds: a smoke run")
    p.add_argument("--work", type=Path, default=None, help="keep finished runs here and resume from them")
    p.add_argument("--tag", default="", help="suffix of the result file names")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--render", type=Path, default=None, metavar="JSON", help="rewrite the .md of a recorded result")
    args = p.parse_args(argv)
    if args.quick:
        args.block, args.batch = args.block or list(QUICK_BLOCKS), "1"
        args.iters, args.torch_iters, args.warmup, args.tag = 15, 5, 3, args.tag or "quick"
    return args


def rounds(args: argparse.Namespace, runtime: str, batch: int) -> tuple[int, int]:
    """(warm-up, timed) rounds: about as many images at every batch, at least 8 timed rounds."""
    iters = args.torch_iters if runtime.startswith("torch") else args.iters
    return max(1, args.warmup // batch), max(8, iters // batch) if batch > 1 else iters


def job_settings(args: argparse.Namespace, runtime: str, batch: int) -> BenchSettings:
    warmup, iters = rounds(args, runtime, batch)
    options = {runtime: RunnerOptions(spinning=args.spinning)} if runtime.startswith("ort-") else {}
    return BenchSettings(parse_targets([runtime]), (batch,), warmup=warmup, iters=iters, threads=args.threads,
                         runtime_options=options)


def cached(work: Path | None, key: str, settings: dict[str, Any], measure: Callable[[], dict[str, Any]],
           log: Log) -> dict[str, Any]:
    """``measure()``'s JSON, or the one ``work/<key>.json`` holds from a run with the same settings."""
    path = None if work is None else work / f"{key}.json"
    if path is not None and path.is_file():
        stored = json.loads(path.read_text(encoding="utf-8"))
        if stored.get("job_settings") == settings:
            log(f"{key}: loaded from {path}")
            return dict(stored["result"])
    result = measure()
    if path is not None:
        write_atomic(path, json.dumps({"job_settings": settings, "result": result}, default=str) + "\n", force=True)
    return result


def timed(models: Sequence[Prepared], settings: BenchSettings, log: Log) -> dict[str, Any]:
    """One :func:`compare` run as JSON (every round's time included) and as a Markdown table."""
    result = compare(models, settings, log)
    return {"bench": result.to_json(times=True), "table": format_table(result, markdown=True)}


def alternated(optimized: Sequence[Prepared], plain: Sequence[Prepared]) -> list[Prepared]:
    """The optimised baseline first, then every export of every model, plain beside optimised."""
    return [m for pair in zip(optimized, (replace(p, label=p.label + PLAIN) for p in plain)) for m in pair]


def ort_layout(path: Path) -> dict[str, int]:
    """Layout copies and fused convolutions in onnxruntime CPU's optimised graph of ``path``."""
    from recalib.deploy.backends.ort import optimized_graph

    nodes = optimized_graph(path).node
    ops = Counter(n.op_type for n in nodes if n.domain.endswith("nchwc"))
    return {"reorders": ops["ReorderInput"] + ops["ReorderOutput"], "nchwc_nodes": sum(ops.values()),
            "conv_sum_fused": sum(1 for n in nodes if n.domain.endswith("nchwc") and n.op_type == "Conv"
                                  and len(n.input) > 3), "nodes": len(nodes)}


def openvino_graph(path: Path, shape: tuple[int, ...], threads: int) -> dict[str, Any]:
    """OpenVINO CPU's executed graph of ``path``: reorders, fusions, layer counts and times by type."""
    from recalib.deploy.backends.openvino_graph import executed_graph

    data = executed_graph(path, shape, threads=threads, runs=5 if shape[0] == 1 else 3).to_dict()
    del data["layers"]
    return data


def evidence(runtime: str, families: dict[str, list[Prepared]], batch: int, threads: int) -> dict[str, Any]:
    """What ``runtime`` executes of every export, by label and export: its layout evidence."""
    found: dict[str, Any] = {}
    for export, models in families.items():
        for model in models:
            path = model.file_for(runtime)
            assert path is not None
            found.setdefault(model.label, {})[export] = (
                ort_layout(path) if runtime == "ort-cpu"
                else openvino_graph(path, (batch, *model.input_chw), threads))
    return found


def export_facts(models: Sequence[Prepared]) -> dict[str, dict[str, Any]]:
    """Per label and runtime: the export's form, op histogram, rewrites and parity error."""
    return {m.label: {runtime: {"form": e.describe(), "ops": e.report.op_histogram, "rewrites": e.report.rewrites,
                                "max_rel_error": e.report.max_rel_error} for runtime, e in m.exports.items()}
            for m in models}


class Exports:
    """Every model exported plain and optimised for the ONNX runtimes, made at the first use: a rerun
    whose ONNX runs are all in ``--work`` exports nothing."""

    def __init__(self, models: list[Prepared], onnx: list[str], folder: Path, log: Log) -> None:
        self.models, self.onnx, self.folder, self.log = models, onnx, folder, log
        self._families: dict[str, list[Prepared]] = {}

    def families(self) -> dict[str, list[Prepared]]:
        """``{"optimized": [...], "plain": [...]}``, in model order."""
        for export in ("optimized", "plain") if not self._families else ():
            (self.folder / export).mkdir()
            self._families[export] = export_all(self.models, self.folder / export,
                                                PrepareOptions(export=ExportOptions(optimize=export == "optimized")),
                                                runtimes=self.onnx, progress=self.log)
        return self._families

    def timed(self, runtime: str) -> list[Prepared]:
        """What ``runtime`` times: both exports of every model, alternated, or the modules."""
        if runtime not in self.onnx:
            return self.models
        families = self.families()
        return alternated(families["optimized"], families["plain"])


def measure_all(args: argparse.Namespace, models: list[Prepared], folder: Path, log: Log) -> dict[str, Any]:
    """Time every runtime at every batch, then collect the evidence; each piece cached in ``--work``."""
    runtimes, batches = split_top_level(args.runtime), [int(b) for b in split_top_level(args.batch)]
    onnx = onnx_runtimes(parse_targets(runtimes))
    exports = Exports(models, onnx, folder, log)
    what = {"arch": args.arch, "labels": [m.label for m in models]}
    runs, found = {}, {}
    for batch in batches:
        for runtime in runtimes:
            settings = job_settings(args, runtime, batch)
            runs[f"{runtime}-b{batch}"] = cached(args.work, f"{runtime}-b{batch}", {**what, **settings.to_dict()},
                                                 lambda: timed(exports.timed(runtime), settings, log), log)
    for runtime in (r for r in onnx if r in ("ort-cpu", "openvino-cpu")):
        for batch in batches[:1] if runtime == "ort-cpu" else batches:
            key = f"evidence-{runtime}-b{batch}"
            found[key] = cached(args.work, key, {**what, "threads": args.threads},
                                lambda: evidence(runtime, exports.families(), batch, args.threads), log)
    facts = cached(args.work, "exports", {**what, "runtimes": onnx},
                   lambda: {export: export_facts(family) for export, family in exports.families().items()},
                   log) if onnx else {}
    return {"runtimes": runtimes, "onnx_runtimes": onnx, "batches": batches, "runs": runs, "evidence": found,
            "exports": facts}


def run(args: argparse.Namespace, log: Log) -> dict[str, Any]:
    """Everything the page needs, JSON-ready: settings, machine, runs, exports, evidence, summary."""
    base = parse_spec(args.arch)
    blocks = args.block or list(TARGETS)
    models = [build(base, label=BASELINE), *(build(base.with_block(b), label=b) for b in blocks)]
    machine = machine_info.collect()
    with temporary_folder("overhead-") as tmp:
        measured = measure_all(args, models, tmp, log)
    data = {"recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "arch": args.arch, "input_chw": list(models[0].input_chw), "labels": [m.label for m in models],
            "threads": args.threads, "spinning": args.spinning, "quick": args.quick, "machine": machine.to_dict(),
            "load_average_end": machine_info.load_average(), **measured}
    return {**data, **summarize(data)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    if args.render is not None:
        data = json.loads(args.render.read_text(encoding="utf-8"))
        data = {**data, **summarize(data)}
        stem = write_pair(args.render.with_suffix(""), data, markdown(data))
        print(f"wrote {stem}.md")
        return 0
    data = run(args, lambda msg: print(f"[overhead] {msg}", flush=True))
    machine = machine_info.MachineInfo(**data["machine"])
    page = markdown(data)
    stem = record(args.out, "overhead", machine, data["recorded"], args.tag, data, page)
    print(page.split("## Runs")[0])
    print(f"wrote {stem}.md and {stem.name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
