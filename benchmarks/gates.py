"""What the gates of others' networks cost per runtime: timm's SE-ResNet-50 and torchvision's MobileNetV3-Large.

    python benchmarks/gates.py                  # full size at 224, ort-cpu, openvino-cpu, torch-eager, 1 thread
    python benchmarks/gates.py --quick          # a smoke run: small versions at 32x32, ort-cpu, few rounds

The look-alikes of ``examples/foreign_models.py`` are registered as architectures (SE-ResNet-50
with its last norms not zero-initialised: timm's ``zero_init_last`` makes every gated tensor zero
at initialisation, so an ablation would show nothing), then :func:`recalib.profiling.gates.audit.audit_gates`
finds, counts, ablates and times their gates (every gate, and each stage alone), the models
alternating in one worker per runtime. The report folder
(``benchmarks/results/gates-<machine>-<date>/``: ``report.md``, ``gates.csv``, ``gate_latency.csv``,
``gates_latency.png``) names the machine and the load average.
"""
from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import foreign_models as fm  # noqa: E402

from recalib.deploy.machine_info import collect  # noqa: E402
from recalib.deploy.target import parse_targets  # noqa: E402
from recalib.profiling.gates.audit import audit_gates  # noqa: E402
from recalib.profiling.gates.report import GatesSection  # noqa: E402
from recalib.profiling.latency.plan import LatencyPlan  # noqa: E402
from recalib.profiling.report.writer import write_report  # noqa: E402
from recalib.registry import register_model  # noqa: E402
from recalib.spec import parse_spec  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
NAMES = ("timm_seresnet50", "tv_mobilenet_v3_large")


def register(quick: bool) -> None:
    """The two look-alikes as architectures (``quick``: quarter width, a block or two per stage, 32x32)."""
    width, size = (0.25, (32, 32)) if quick else (1.0, (224, 224))
    layers = [1, 2, 2, 1] if quick else [3, 4, 6, 3]

    def seresnet50(block: object = None, stages: object = None) -> nn.Module:
        return fm.ResNet(layers, fm.SEModule, width=width, zero_init_last=False)

    def mobilenet_v3_large(block: object = None, stages: object = None) -> nn.Module:
        return fm.mobilenet_v3_large(width=max(width, 0.5))

    register_model(NAMES[0], seresnet50, paper="timm", summary="SE-ResNet-50 look-alike", input_size=size,
                   dataset="imagenet")
    register_model(NAMES[1], mobilenet_v3_large, paper="torchvision", summary="MobileNetV3-Large look-alike",
                   input_size=size, dataset="imagenet")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small versions, ort-cpu, 5 rounds: a smoke run")
    p.add_argument("--runtime", default="ort-cpu,openvino-cpu,torch-eager", help="comma-separated runtimes")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=100)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out", type=Path, default=None, help="the report folder (default: under benchmarks/results)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    register(args.quick)
    runtimes = "ort-cpu" if args.quick else args.runtime
    plan = LatencyPlan(targets=parse_targets(runtimes.split(",")), iters=5 if args.quick else args.iters,
                       warmup=1 if args.quick else args.warmup, threads=args.threads, strict=True)
    machine = collect().cpu.lower().replace(" ", "-")
    out = args.out or RESULTS / f"gates-{machine}-{datetime.date.today().isoformat()}"
    section = GatesSection(audit_gates([parse_spec(name) for name in NAMES], plan, per_stage=True))
    report = write_report(out, [section], title="recalib gates of others' networks")[0]
    print("\n".join(section.summary()))
    print(f"report: {report}")
    return out


if __name__ == "__main__":
    main()
