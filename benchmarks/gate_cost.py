"""Where gates cost most: native gates, no gate and recalib's blocks on ResNet-50 and three mobile networks (issue 22).

    python benchmarks/gate_cost.py                 # the full table (45-60 minutes on 2 quiet cores)
    python benchmarks/gate_cost.py --quick         # a smoke run: MobileNetV3 at 32x32, onnxruntime, few rounds
    python benchmarks/gate_cost.py --render benchmarks/results/gate-cost-<machine>-<date>.json

For each network (ResNet-50, EfficientNet-B0, MobileNetV3-Large, RegNetY-800MF at 224) the
measurement is a latency audit (:func:`recalib.profiling.latency.audit.audit_latency`) of its own:
the baseline is the network with no gate at all (``ARCH+none``), the native network (its own
SE, labelled ``native``; ResNet-50 has none, its SE-ResNet-50 is the ``se`` row) and the network
with each recalib block in the native gates' places are timed against it. The audit prepares
every model once (seeded weights, batch-norm statistics from random inputs), counts parameters
and multiply-adds, exports each plain and optimised for each ONNX runtime, and times each
runtime, export and batch in one run where the models alternate round by round, one thread
each; every overhead is a ratio of medians against the baseline of the same run, exported the
same way, with its 95% paired-bootstrap interval. A block that cannot sit at a network's gate
points is listed with the reason, not measured. The page (:mod:`gate_cost_report`) marks noisy
cells. Writes ``benchmarks/results/gate-cost-<machine>-<date>[-tag].json`` (every round) and
``.md``; exits with the status of the first measurement that failed, else 0.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gate_cost_report import markdown
from overhead_report import run_key
from record import add_record_options, now, record, write_pair

from recalib.deploy.machine_info import MachineInfo
from recalib.deploy.results import BenchResult
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.target import onnx_runtimes, parse_targets
from recalib.errors import ConfigError
from recalib.literals import split_top_level
from recalib.profiling.latency.audit import AuditHooks, LatencyAudit, audit_latency
from recalib.profiling.latency.plan import DEFAULT_BLOCKS, LatencyPlan, check_names
from recalib.spec import parse_spec

ARCHS = ("resnet50", "efficientnet_b0", "mobilenet_v3_large", "regnet_y_800mf")
RUNTIMES = ("ort-cpu", "openvino-cpu", "torch-eager", "torch-compile")
QUICK = {"arch": ["mobilenet_v3_large:input_size=(32,32)"], "block": ["ge-theta-minus", "cmpe-se-pair-1x1"],
         "runtime": "ort-cpu", "batch": "1", "iters": 6, "torch_iters": 3, "warmup": 1, "optimize": False}
Log = Callable[[str], None]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", action="append", default=None,
                   help=f"a network spec, repeatable (default: {', '.join(ARCHS)})")
    p.add_argument("--block", action="append", default=None,
                   help=f"a block spec, repeatable (default: the latency audit's, {', '.join(DEFAULT_BLOCKS)})")
    p.add_argument("--runtime", default=",".join(RUNTIMES), help="comma-separated (default: %(default)s)")
    p.add_argument("--batch", default="1,8", help="comma-separated batch sizes (default: %(default)s)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=100, help="timed rounds of the ONNX runtimes at batch 1 (default: 100)")
    p.add_argument("--torch-iters", type=int, default=40,
                   help="timed rounds of the torch runtimes at batch 1 (default: 40)")
    p.add_argument("--warmup", type=int, default=10, help="warm-up rounds at batch 1 (default: 10)")
    p.add_argument("--no-optimize", dest="optimize", action="store_false", help="time the plain ONNX exports only")
    p.add_argument("--no-spinning", dest="spinning", action="store_false",
                   help="onnxruntime threads never spin (the default spins during a run only)")
    p.add_argument("--quick", action="store_true", help="MobileNetV3 at 32x32, onnxruntime, few rounds: a smoke run")
    add_record_options(p)
    p.add_argument("--render", type=Path, default=None, metavar="JSON", help="rewrite the .md of a recorded result")
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, getattr(args, key) if key in ("arch", "block") and getattr(args, key) else value)
        args.tag = args.tag or "quick"
    return args


def fitting(arch: str, blocks: list[str]) -> tuple[list[str], dict[str, str]]:
    """The blocks that can sit at ``arch``'s gate points, and why each other one cannot (built on shapes only)."""
    base, fit, refused = parse_spec(arch), [], {}
    for block in blocks:
        try:
            record = base.with_block(block).record
            assert record is not None
            record.create_on_meta()
            fit.append(block)
        except ConfigError as exc:
            refused[block] = str(exc)
    return fit, refused


def plan_of(args: argparse.Namespace, arch: str, blocks: list[str]) -> LatencyPlan:
    """One network's audit: its native model and the blocks that fit, against ``ARCH+none``; named runtimes
    (an unavailable one is an error), the torch runtimes' own rounds, onnxruntime's spinning as asked."""
    targets = parse_targets(split_top_level(args.runtime))
    return LatencyPlan(archs=(arch,), blocks=tuple(blocks), targets=targets,
                       batches=tuple(int(b) for b in split_top_level(args.batch)), iters=args.iters,
                       warmup=args.warmup, threads=args.threads, optimize=args.optimize, native=True, strict=True,
                       runtime_iters={t.runtime: args.torch_iters for t in targets if not t.runs_onnx},
                       runtime_options={t.runtime: RunnerOptions(spinning=args.spinning) for t in targets
                                        if t.runtime.startswith("ort-")})


def measure(plan: LatencyPlan, refused: dict[str, str], log: Log) -> dict[str, Any]:
    """Audit one network; its part of the record: labels, costs, every run with its rounds, what was not measured."""
    runs: dict[str, Any] = {}

    def timed(arch: str, result: BenchResult) -> None:
        target, batch = result.settings.targets[0], result.settings.batches[0]
        key = run_key(target.name, batch)  # every export of the runtime in the same rounds
        runs[key] = {"bench": result.to_json(times=True)}
        log(f"{arch}: timed {key}")

    audit: LatencyAudit = audit_latency(plan, hooks=AuditHooks(timed=timed))
    [arch] = audit.archs
    return {"arch": plan.archs[0], "input_chw": list(arch.input_chw), "labels": [c.label for c in arch.costs],
            "costs": [asdict(c) for c in arch.costs], "runs": runs, "not_fitting": refused,
            "failures": [asdict(f) for f in audit.failures], "machine": audit.machine.to_dict(),
            "load_average_end": audit.load_end, "seconds": audit.seconds}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.render is not None:
        data = json.loads(args.render.read_text(encoding="utf-8"))
        print(f"wrote {write_pair(args.render.with_suffix(''), data, markdown(data))}.md")
        return 0
    plans = []
    for arch in args.arch or ARCHS:
        blocks, refused = fitting(arch, list(args.block or DEFAULT_BLOCKS))
        plans.append((plan_of(args, arch, blocks), refused))
        check_names(plans[-1][0])
    networks = [measure(plan, refused, _log) for plan, refused in plans]
    targets = plans[0][0].targets
    data = json.loads(json.dumps({
        "recorded": now(), "machine": networks[0]["machine"], "threads": args.threads, "spinning": args.spinning,
        "quick": args.quick, "optimize": args.optimize, "batches": list(plans[0][0].batches),
        "rounds": {t.name: {b: plans[0][0].rounds(b, t.runtime) for b in plans[0][0].batches} for t in targets},
        "runtimes": [t.name for t in targets], "onnx_runtimes": onnx_runtimes(targets), "networks": networks},
        default=str))
    page = markdown(data)
    stem = record(args.out, "gate-cost", MachineInfo(**data["machine"]), data["recorded"], args.tag, data, page)
    print(page.split("\n## ")[0] + f"\nwrote {stem}.md and {stem.name}.json")
    failures = [f for network in networks for f in network["failures"]]
    return failures[0]["exit_code"] if failures else 0


def _log(message: str) -> None:
    print(f"[gate-cost] {message}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
