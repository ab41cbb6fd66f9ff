"""``recalib bench``: time exported files or model specifications against each other, alternated.

Examples::

    recalib export resnet50+se -o se.onnx && recalib bench se.onnx
    recalib bench base.onnx se.onnx                     # the overhead of se.onnx over base.onnx
    recalib bench resnet50 --block se --block ge-theta-minus:extent=8 --runtime ort-cpu,torch-eager --batch 1,8

Models alternate A B C A B C … in one worker process per runtime; the first is the baseline
(``--baseline`` picks another). Output as trtexec and benchmark_app print it: p50/p90/p95/p99,
mean, min, max, throughput, with the settings, each model's overhead over the baseline with
its 95% interval, and, for models built here, each runtime's parity with the float64 model.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from recalib.cli._args import (add_blocks, add_input_size, add_model, add_output, add_precision, add_seed, add_timing,
                               add_verification, given)

if TYPE_CHECKING:
    from recalib.export.options import PrepareOptions
    from recalib.export.prepared import Prepared
    from recalib.deploy.runner_options import RunnerOptions
    from recalib.deploy.settings import BenchSettings
    from recalib.deploy.target import Target
    from recalib.spec import Spec


def register(subparsers: argparse._SubParsersAction) -> None:
    # The records are light to import: each default below is theirs, written once.
    from recalib.deploy.settings import BenchSettings
    from recalib.export.options import PrepareOptions

    p = subparsers.add_parser(
        "bench", help="time exported models or model specs against each other, alternated",
        description="Time each MODEL (an exported .onnx file, or a spec built here with seeded, calibrated "
                    "weights and exported like `recalib export`) on each runtime, alternating the models "
                    "round by round, after checking each runtime's output against the float64 PyTorch model "
                    "where there is one. The first model is the baseline of the overheads.")
    add_model(p, several=True, files=True)
    add_blocks(p, several=True, extra="; repeatable: compares MODEL with MODEL+BLOCK for each")
    p.add_argument("--baseline", default=None, metavar="MODEL",
                   help="the model the others are compared with: its position (1 = first) or its text "
                        "(default: the first)")
    add_timing(p, runtime=", ".join(t.name for t in BenchSettings.targets),
               batch=",".join(map(str, BenchSettings.batches)), iters=str(BenchSettings.iters),
               warmup=str(BenchSettings.warmup), threads="the cores available")
    add_input_size(p)
    add_seed(p, help=f"seed of random weights of specs (default {PrepareOptions.seed})")
    add_precision(p, "parity is judged against PyTorch in that precision (int8: specs are exported as QDQ graphs "
                     "and judged on the stated int8 bound; files must be QDQ graphs already)")
    add_verification(p, "export specs plain, without export.optimize's exact rewrites",
                     target_default="each runtime's own (openvino-cpu: openvino, the others: onnxruntime)")
    p.add_argument("--no-spinning", dest="spinning", action="store_false",
                   help="onnxruntime: threads never spin (default: they spin during a run and stop "
                        "when it returns); for machines shared with other work")
    add_output(p, "also write the full result as JSON to PATH")
    p.add_argument("--times", action="store_true", help="include every timed round in the JSON")
    p.add_argument("--inputs", type=Path, default=None, metavar="FILE.npz",
                   help="time on these images (an .npz with inputs (N, C, H, W), as --verify-data reads; the first "
                        "B per batch, repeated when there are fewer) instead of a fixed random input")
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="after timing, write each model's per-layer times on ort-cpu, openvino-cpu and torch-eager "
                        "to DIR (one CSV per runtime, batch and model: layer, op, module path, gate, fused ops, ms) "
                        "with DIR/summary.md (time in gates and its share, costliest modules); the gate share is "
                        "printed too")
    p.set_defaults(handler=run)


def _runtime_options(targets: tuple[Target, ...], args: argparse.Namespace) -> dict[str, RunnerOptions]:
    """The runner options of each runtime: the precision where asked, spinning for onnxruntime, and for
    tensorrt the int8 calibration images (its own calibrator quantises a float .onnx file)."""
    from recalib.deploy.runner_options import RunnerOptions

    precision = None if args.precision == "fp32" else args.precision  # each runtime's own default, set nowhere
    return {runtime: RunnerOptions(precision=precision,
                                   spinning=args.spinning if runtime.startswith("ort-") else None,
                                   calibration=args.calibration if runtime == "tensorrt" else None)
            for runtime in dict.fromkeys(t.runtime for t in targets)}


def _baseline(specs: list[Spec], choice: str | None) -> list[Spec]:
    """``specs`` with the one ``--baseline`` names (its position from 1, or its text) first."""
    from recalib.errors import ConfigError

    labels = [spec.text for spec in specs]
    if choice is None:
        index = 0
    elif choice.isdigit() and 1 <= int(choice) <= len(labels):
        index = int(choice) - 1
    elif choice in labels:
        index = labels.index(choice)
    else:
        raise ConfigError(f"--baseline {choice}: not one of the models ({', '.join(labels)}) nor a position "
                          f"1..{len(labels)}")
    return [specs[index], *specs[:index], *specs[index + 1:]]


def _settings(args: argparse.Namespace) -> BenchSettings:
    """The comparison's settings: what the flags gave, the record's defaults for the rest."""
    from recalib.deploy.settings import BenchSettings
    from recalib.deploy.target import parse_targets

    targets = parse_targets(args.runtime) if args.runtime else BenchSettings.targets
    return BenchSettings(targets, **given(batches=args.batch, warmup=args.warmup, iters=args.iters,
                                          threads=args.threads, tolerance=args.tolerance, duration=args.duration,
                                          repeat=args.repeat, inputs=args.inputs),
                         runtime_options=_runtime_options(targets, args))


def run(args: argparse.Namespace) -> int:
    from recalib.deploy.bench import bench
    from recalib.deploy.report import format_table
    from recalib.cli._output import check_output, emit
    from recalib.cli._specs import prepare_options, quantization, specs

    settings, parsed = _settings(args), specs(args)
    # int8 specs are exported as QDQ graphs; bf16 and fp16 are the runtimes' own (the export stays float32)
    options = prepare_options(args, precision="int8" if args.precision == "int8" else "fp32",
                              quantization=quantization(args, parsed[0]))
    inputs = [path for spec in parsed for path in spec.inputs] + ([args.inputs] if args.inputs else [])
    check_output(args, inputs)
    log = (lambda msg: None) if args.json else (lambda msg: print(f"[bench] {msg}", flush=True))
    profile = None if args.profile is None else (lambda models: _profile(models, settings, options, args, log))
    result = bench(_baseline(parsed, args.baseline), settings, options, progress=log, exported=profile)
    emit(args, result.to_json(times=args.times), format_table(result), inputs)
    return 0


def _profile(models: Sequence[Prepared], settings: BenchSettings, options: PrepareOptions,
             args: argparse.Namespace, log: Callable[[str], None]) -> None:
    """``--profile DIR``: each model's per-layer profile on every runtime that can take one, at every batch;
    the time in gates printed for each. Models timed on torch runtimes alone are exported here (into a
    temporary folder, with the bench's ``options``): their graph says which modules compute gates."""
    from recalib.export.export_all import export_all
    from recalib.infra.workspace import temporary_folder
    from recalib.profiling.latency.layer_runtimes import profile_layers, why_not_profiled
    from recalib.profiling.latency.layers import profile_line, write_profiles

    precision, runtimes = args.precision, list(dict.fromkeys(t.name for t in settings.targets))
    skipped = {r: why for r in runtimes if (why := why_not_profiled(r, precision)) is not None}
    profiled = [r for r in runtimes if r not in skipped]
    with temporary_folder("profile-") as tmp:
        if any(model.file is None for model in models) and profiled:
            models = export_all(list(models), tmp, options, runtimes=["ort-cpu"])
        profiles = [profile_layers(model, runtime, batch, settings.threads, precision=precision)
                    for runtime in profiled for batch in settings.batches for model in models]
    files = write_profiles(args.profile, profiles, skipped, args.force)
    for profile in profiles:
        log(f"profile: {profile_line(profile)}")
    for runtime, why in skipped.items():
        log(f"profile: {runtime} not profiled: {why}")
    log(f"per-layer profiles: {len(profiles)} in {args.profile} ({files[-1].name})")

