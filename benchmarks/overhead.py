"""ResNet-50 block overheads per CPU runtime: onnxruntime, OpenVINO, torch eager, torch.compile (issue 15).

    python benchmarks/overhead.py                        # the full table
    python benchmarks/overhead.py --quick                # a smoke run: batch 1, two blocks, few rounds
    python benchmarks/overhead.py --render benchmarks/results/overhead-<machine>-<date>.json

The measurement is a latency audit (:func:`recalib.profiling.latency.audit.audit_latency`) with this
script's own plan: one architecture, every block of issue 15, the four CPU runtimes, batch 1
and 8, fewer rounds for the torch runtimes, and onnxruntime's spinning as asked. The audit
prepares each model once (:mod:`recalib.export.prepare`: seeded weights, identity gates drawn,
batch-norm statistics from random inputs), exports it *plain* (no rewrites) and *optimised*
for each ONNX runtime (onnxruntime's form on ``ort-cpu``, OpenVINO's on ``openvino-cpu``), and
times every runtime, export and batch in one :func:`recalib.deploy.bench.compare` run of its own:
the models alternate in one worker process, after each was checked against its float64 PyTorch
model. A block's overhead is against the plain ResNet-50 of the same run (so exported the same
way), with its 95% paired-bootstrap interval (:func:`recalib.deploy.stats.ratio`).

Through the audit's hooks the script keeps what the page shows beyond the audit's records:
every run as ``recalib bench -o --times`` writes it, each export's form, ops and rewrites, and
the executed-graph evidence of each export (:mod:`overhead_evidence`). The page
(:mod:`overhead_report`) names the runtime where each block costs least against the issue's
targets, and the speed-up of the fastest ONNX runtime over torch.compile and eager.
Writes ``benchmarks/results/overhead-<machine>-<date>[-tag].json`` and ``.md``; exits with the
status of the first measurement that failed (the page lists it under "Not measured"), else 0.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from overhead_evidence import EVIDENCE_RUNTIMES, evidence, export_facts
from overhead_report import QUICK_BLOCKS, TARGETS, markdown, run_key, summarize
from record import add_record_options, now, record, write_pair

from recalib.deploy.machine_info import MachineInfo
from recalib.deploy.report import format_table
from recalib.deploy.results import BenchResult
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.target import onnx_runtimes, parse_targets
from recalib.export.prepared import Prepared
from recalib.literals import split_top_level
from recalib.profiling.latency.audit import BASELINE, AuditHooks, LatencyAudit, audit_latency
from recalib.profiling.latency.plan import LatencyPlan, check_names

RUNTIMES = ("ort-cpu", "openvino-cpu", "torch-eager", "torch-compile")
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
    add_record_options(p)
    p.add_argument("--render", type=Path, default=None, metavar="JSON", help="rewrite the .md of a recorded result")
    args = p.parse_args(argv)
    if args.quick:
        args.block, args.batch = args.block or list(QUICK_BLOCKS), "1"
        args.iters, args.torch_iters, args.warmup, args.tag = 15, 5, 3, args.tag or "quick"
    return args


def plan_of(args: argparse.Namespace) -> LatencyPlan:
    """The audit this benchmark runs: named runtimes (an unavailable one is an error), plain and each
    runtime's optimised exports, the torch runtimes' own rounds, onnxruntime's spinning as asked."""
    targets = parse_targets(split_top_level(args.runtime))
    return LatencyPlan(archs=(args.arch,), blocks=tuple(args.block or TARGETS), targets=targets,
                       batches=tuple(int(b) for b in split_top_level(args.batch)), iters=args.iters,
                       warmup=args.warmup, threads=args.threads, optimize=True, strict=True,
                       runtime_iters={t.runtime: args.torch_iters for t in targets if not t.runs_onnx},
                       runtime_options={t.runtime: RunnerOptions(spinning=args.spinning) for t in targets
                                        if t.runtime.startswith("ort-")})


class Collector:
    """The audit's hooks: every run, every export's facts and its executed-graph evidence, as the page's JSON."""

    def __init__(self, plan: LatencyPlan, threads: int, log: Log) -> None:
        self.plan, self.threads, self.log = plan, threads, log
        self.runs: dict[str, Any] = {}
        self.exports: dict[str, Any] = {}
        self.evidence: dict[str, Any] = {}

    def hooks(self) -> AuditHooks:
        return AuditHooks(exported=self.exported, timed=self.timed)

    def exported(self, arch: str, variant: str, models: Mapping[str, Prepared]) -> None:
        """Facts of every export, and what onnxruntime (at the first batch) and OpenVINO (at every batch) execute."""
        self.log(f"{arch}: exported {len(models)} models ({variant}); collecting the executed graphs")
        self.exports[variant] = export_facts(models.values())
        for runtime in (r for r in onnx_runtimes(self.plan.targets) if r in EVIDENCE_RUNTIMES):
            for batch in self.plan.batches[:1] if runtime == "ort-cpu" else self.plan.batches:
                found = self.evidence.setdefault(f"evidence-{runtime}-b{batch}", {})
                for label, model in models.items():
                    found.setdefault(label, {})[variant] = evidence(runtime, model, batch, self.threads)

    def timed(self, arch: str, result: BenchResult) -> None:
        """One run, with every round's time and its own table."""
        target, batch = result.settings.targets[0], result.settings.batches[0]
        key = run_key(target.name, batch)  # every export of the runtime in the same rounds
        self.runs[key] = {"bench": result.to_json(times=True), "table": format_table(result, markdown=True)}
        self.log(f"{arch}: timed {key}")


def data_of(args: argparse.Namespace, audit: LatencyAudit, collector: Collector) -> dict[str, Any]:
    """Everything the page needs, as the JSON record holds it: settings, machine, runs, exports, evidence, summary."""
    [arch] = audit.archs
    data = {"recorded": now(), "arch": args.arch, "input_chw": list(arch.input_chw),
            "labels": [BASELINE, *audit.plan.blocks], "threads": args.threads, "spinning": args.spinning,
            "quick": args.quick, "machine": audit.machine.to_dict(), "load_average_end": audit.load_end,
            "runtimes": [t.name for t in audit.targets], "onnx_runtimes": onnx_runtimes(audit.targets),
            "batches": list(audit.plan.batches), "runs": collector.runs, "evidence": collector.evidence,
            "exports": collector.exports, "costs": [asdict(c) for c in arch.costs],
            "failures": [asdict(f) for f in audit.failures]}
    data = json.loads(json.dumps(data, default=str))  # the page is made from the record, as --render makes it
    return {**data, **summarize(data)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render is not None:
        data = json.loads(args.render.read_text(encoding="utf-8"))
        data = {**data, **summarize(data)}
        stem = write_pair(args.render.with_suffix(""), data, markdown(data))
        print(f"wrote {stem}.md")
        return 0
    plan = plan_of(args)
    check_names(plan)
    collector = Collector(plan, args.threads, lambda message: print(f"[overhead] {message}", flush=True))
    data = data_of(args, audit_latency(plan, hooks=collector.hooks()), collector)
    page = markdown(data)
    stem = record(args.out, "overhead", MachineInfo(**data["machine"]), data["recorded"], args.tag, data, page)
    print(page.split("## Runs")[0])
    print(f"wrote {stem}.md and {stem.name}.json")
    return data["failures"][0]["exit_code"] if data["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
