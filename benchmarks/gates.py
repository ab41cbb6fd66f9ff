"""What the gates of others' networks cost per runtime: timm's SE-ResNet-50 and torchvision's MobileNetV3-Large.

    python benchmarks/gates.py                  # full size at 224, ort-cpu, openvino-cpu, torch-eager, 1 thread
    python benchmarks/gates.py --quick          # a smoke run: small versions at 32x32, ort-cpu, few rounds

The look-alikes of ``examples/foreign_models.py`` are taken as a user's model is, by factory
(``examples/foreign_models.py:seresnet50``): preparation redraws the last norms timm's
``zero_init_last`` leaves at zero (with them every gated tensor is zero, so an ablation would show
nothing), then :func:`recalib.profiling.gates.audit.audit_gates` finds, counts, ablates and times
their gates (every gate, and each stage alone), the models alternating in one worker per runtime.
The report folder (``benchmarks/results/gates-<machine>-<date>/``: ``report.md``, ``gates.csv``,
``gate_latency.csv``, ``gates_latency.png``) names the machine and the load average.
"""
from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

from recalib.deploy.machine_info import collect
from recalib.deploy.target import parse_targets
from recalib.profiling.gates.audit import audit_gates
from recalib.profiling.gates.report import GatesSection
from recalib.profiling.latency.plan import LatencyPlan
from recalib.profiling.report.writer import write_report
from recalib.spec import Spec, parse_spec

RESULTS = Path(__file__).resolve().parent / "results"
FACTORIES = Path(__file__).resolve().parents[1] / "examples" / "foreign_models.py"
NAMES = ("seresnet50", "mobilenet_v3_large")
#: The small versions of ``--quick``: a quarter of the widths (half for MobileNetV3), one or two blocks a stage.
QUICK_OPTIONS = {"seresnet50": "width=0.25,depth=0.34", "mobilenet_v3_large": "width=0.5"}


def specs(quick: bool) -> list[Spec]:
    """The look-alikes as factory specifications (``quick``: small versions at 32x32)."""
    source = os.path.relpath(FACTORIES)  # the report names the file as a user in this folder would
    texts = [f"{source}:{name}" + (f":{QUICK_OPTIONS[name]}" if quick else "") for name in NAMES]
    return [parse_spec(t).with_input_size((32, 32)) if quick else parse_spec(t) for t in texts]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small versions, ort-cpu, 5 rounds: a smoke run")
    p.add_argument("--runtime", default="ort-cpu,openvino-cpu,torch-eager", help="comma-separated runtimes")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--tolerance", type=float, default=LatencyPlan.tolerance,
                   help="the parity bound's floor each runtime's output is judged by before timing")
    p.add_argument("--out", type=Path, default=None, help="the report folder (default: under benchmarks/results)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    runtimes = "ort-cpu" if args.quick else args.runtime
    plan = LatencyPlan(targets=parse_targets(runtimes.split(",")), iters=5 if args.quick else args.iters,
                       warmup=1 if args.quick else args.warmup, threads=args.threads, tolerance=args.tolerance,
                       strict=True)
    machine = collect().cpu.lower().replace(" ", "-")
    out = args.out or RESULTS / f"gates-{machine}-{datetime.date.today().isoformat()}"
    section = GatesSection(audit_gates(specs(args.quick), plan, per_stage=True))
    report = write_report(out, [section], title="recalib gates of others' networks")[0]
    print("\n".join(section.summary()))
    print(f"report: {report}")
    return out


if __name__ == "__main__":
    main()
