"""``recalib audit``: the report reviewers read, the product's main job.

Three sections (``--sections``): the claims audit (every parameter and FLOP
figure in the papers, judged to its printed digits and on the block's own cost, with each
paper's counting method; see :mod:`recalib.profiling.claims.audit` for the verdicts) and the latency audit (each
block's parameter, FLOP and latency overhead on ResNet-50 and a CIFAR ResNet, per runtime
and batch), and, for ``--model MODEL``, the gates of the user's own model (:mod:`recalib.profiling.gates`:
found, counted, ablated and timed against the model per runtime; with ``--model`` it is the default
section). Writes ``report.md``, ``report.json``, CSVs and PNG plots into one folder.

Exit status: 0 when everything was measured; 2 for bad usage (checked before any slow work
and before the report folder is touched: options, names, sizes, and a ``-o`` that is not a
folder, is held by another audit, or holds a file the report would replace that recalib did
not write); 3 when a runtime named with ``--runtime`` cannot run here; otherwise the report is
still written and the status is that of the first failed measurement (4: an export or runtime
disagreed with PyTorch).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from recalib.cli._args import add_blocks, add_precision, add_timing, add_verification, comma_list, given, output_path

if TYPE_CHECKING:
    from recalib.profiling.latency.plan import LatencyPlan
    from recalib.spec import Spec
    from recalib.profiling.report.writer import Section

SECTIONS = ("claims", "latency", "gates")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit", help="audit the papers' claims and the blocks' latency; write a report folder",
        description="Audit every parameter and FLOP claim of the papers, and measure what each block "
                    "costs in parameters, FLOPs and latency on each runtime. Writes report.md, "
                    "report.json, CSVs and PNG plots. The default run takes about 6 minutes on 2 "
                    "cores, --quick under 2.")
    p.add_argument("-o", "--output", default="recalib-report", type=output_path, metavar="DIR",
                   help="report folder (default: %(default)s); files an earlier report wrote are replaced "
                        "or removed, other files are left alone (a file the report would replace but recalib "
                        "did not write is refused unless --force)")
    p.add_argument("--force", action="store_true",
                   help="replace files in DIR that the report writes even if recalib did not write them")
    p.add_argument("--quick", action="store_true",
                   help="a small audit: the claims on CIFAR nets and plain ResNet-50, two blocks "
                        "(se, ge-theta-minus:extent=8), fewer rounds")
    p.add_argument("--sections", action="extend", default=None, type=comma_list(), metavar="S1,S2",
                   help="sections to run: claims, latency, gates (default: claims and latency; with --model: gates)")
    p.add_argument("--model", action="append", default=None, metavar="MODEL",
                   help="gates: your model (a spec, checkpoint or .onnx file; repeatable): its gates found, counted, "
                        "ablated and timed against it on every runtime")
    p.add_argument("--per-stage", action="store_true",
                   help="gates: also ablate each stage's gates alone (stages are feature-map sizes)")
    p.add_argument("--papers", action="extend", default=None, type=comma_list(), metavar="P1,P2",
                   help="claims: only these papers (ms-sar, gather-excite, competitive-se, contextual-convolution, "
                        "squeeze-excitation: our notes on the official SE code)")
    _latency_options(p)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.set_defaults(handler=run)


def _latency_options(p: argparse.ArgumentParser) -> None:
    """The options of the latency section (``None`` means the plan's default, shown in the help)."""
    from recalib.profiling.latency import plan  # light: the defaults are the plan's

    default = plan.LatencyPlan
    p.add_argument("--arch", action="append", default=None, metavar="ARCH[:K=V,...]",
                   help=f"latency: an architecture at its nominal input size, or your own model (FILE.py:FACTORY"
                        f"[:K=V,...], a .pt2 program; this runs your code) measured as it is, without blocks; "
                        f"repeatable (default: {', '.join(default.archs)})")
    add_blocks(p, several=True, extra=f"; repeatable (default: {', '.join(default.blocks)}; "
                                      f"--quick: {', '.join(plan.QUICK_BLOCKS)})")
    add_timing(p, runtime=f"{', '.join(t.name for t in default.targets)}; those that cannot run here are listed as "
                          f"skipped; a runtime named here that cannot run is an error",
               batch=f"{','.join(map(str, default.batches))}; 1,8 adds about 3 minutes on 2 cores",
               iters=f"{default.iters}, --quick {plan.QUICK_ITERS}, at batch 1; iters/batch (at least "
                     f"{plan.MIN_ROUNDS}) at larger batches",
               warmup=f"{default.warmup}, divided by the batch like iters",
               threads=f"{default.threads}, the setting other load disturbs least; all work around the timing "
                       f"runs on 1 thread")
    add_verification(p, "latency: time only the plain ONNX exports, not the optimised ones",
                     target_default="each runtime's own (openvino-cpu: openvino, the others: onnxruntime)")
    add_precision(p, "latency: every model of every runtime (int8: exported as QDQ graphs)")


def _plan(args: argparse.Namespace) -> LatencyPlan:
    """The latency plan: ``--quick`` or the default, with every option given on the command line."""
    from dataclasses import replace

    from recalib.deploy.target import parse_targets
    from recalib.profiling.latency.plan import default_plan
    from recalib.cli._specs import optimize_choice

    plan = default_plan(args.quick)
    overrides = given(archs=args.arch, blocks=args.block or None, batches=args.batch, iters=args.iters,
                      warmup=args.warmup, threads=args.threads, tolerance=args.tolerance, duration=args.duration,
                      repeat=args.repeat, optimize=optimize_choice(args), precision=args.precision,
                      calibration=args.calibration, gates_in_float=args.gates_in_float or None,
                      calibration_method=args.calibration_method)
    plan = replace(plan, **overrides)
    if args.runtime is not None:
        plan = replace(plan, targets=parse_targets(args.runtime), strict=True)
    return plan


def _sections(args: argparse.Namespace) -> list[str]:
    from recalib.errors import ConfigError

    chosen = args.sections or (["gates"] if args.model else ["claims", "latency"])
    unknown = [s for s in chosen if s not in SECTIONS]
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    if "gates" in chosen and not args.model:
        raise ConfigError("the gates section audits your model: give --model MODEL (a spec, checkpoint or .onnx file)")
    return [s for s in SECTIONS if s in chosen]


def _check(args: argparse.Namespace, chosen: list[str]) -> LatencyPlan:
    """Every option, name and size, checked before any work and before the report folder is touched."""
    from recalib.export.quantize.calibration import check_calibration
    from recalib.profiling.claims.papers import load_papers
    from recalib.profiling.latency.audit import resolve_targets
    from recalib.profiling.latency.plan import check_names

    plan = _plan(args)
    check_names(plan)
    if "claims" in chosen:
        load_papers(args.papers)
    if "latency" in chosen or "gates" in chosen:
        resolve_targets(plan)  # a runtime the user named that cannot run here fails now, not later
    for spec in (plan.arch_specs if "latency" in chosen else ()) + tuple(_models(args) if "gates" in chosen else ()):
        spec.check_fits(max(plan.batches))
    if "latency" in chosen and plan.calibration is not None:  # int8's images are read before any model is built
        for spec in plan.arch_specs:
            check_calibration(plan.calibration, spec.input_chw())
    return plan


def _models(args: argparse.Namespace) -> list[Spec]:
    """The models of ``--model``, parsed (and ``--input-size`` applied) before any work."""
    from recalib.spec import parse_spec

    return [parse_spec(text) for text in args.model or []]


def run(args: argparse.Namespace) -> int:
    import torch

    from recalib.profiling.claims.audit import audit_claims
    from recalib.profiling.claims.report import ClaimsSection
    from recalib.profiling.latency.audit import audit_latency
    from recalib.profiling.latency.report import LatencySection
    from recalib.profiling.report.writer import report_names, write_report
    from recalib.profiling.report.folder import ReportFolder

    chosen = _sections(args)
    plan = _check(args, chosen)
    from recalib.profiling.gates.audit import audit_gates
    from recalib.profiling.gates.report import GatesSection

    kinds = [kind for kind in (ClaimsSection, LatencySection, GatesSection) if kind.key in chosen]
    with ReportFolder(args.output, report_names(kinds), args.force) as folder:
        sections: list[Section] = []
        if "claims" in chosen:
            # Tracing is dominated by per-op overhead: more threads rarely help and slow a busy machine.
            torch.set_num_threads(1)
            sections.append(ClaimsSection(audit_claims(args.papers, quick=args.quick,
                                                       progress=not args.no_progress)))
        latency = audit_latency(plan, progress=not args.no_progress) if "latency" in chosen else None
        if latency is not None:
            sections.append(LatencySection(latency))
        gates = (audit_gates(_models(args), plan, args.per_stage, progress=not args.no_progress)
                 if "gates" in chosen else None)
        if gates is not None:
            sections.append(GatesSection(gates))
        files = write_report(folder, sections)
    _print_summary(sections, files[0])
    failures = (latency.failures if latency is not None else []) + (gates.failures if gates is not None else [])
    if failures:
        print(f"{len(failures)} measurements failed; the report lists them under 'Not measured'")
        return failures[0].exit_code
    return 0


def _print_summary(sections: list[Section], report: Path) -> None:
    for section in sections:
        print(section.title)
        for line in section.summary():
            print(f"  {line}")
    print(f"report: {report}")
