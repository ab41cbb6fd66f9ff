"""Trained models on real data: each block family trained on the digits, exported, and deployed on every CPU runtime.

    python benchmarks/trained.py                # cifar_resnet20 at 32x32, ten models (about 15 min on 2 cores)
    python benchmarks/trained.py --quick        # plain, se and ms-sar, 3 epochs, fewer rounds: a smoke run

For each model (the plain backbone, then each block) on ``--arch`` (default ``cifar_resnet20``
at its 32x32 input):

1. **train** it on the digits' training split with ``examples/train_digits.py``'s plain
   PyTorch loop and schedule (seeded, one thread by default), and time it;
2. **checkpoint** it (:func:`recalib.save_checkpoint`) and check the round trip: every
   ``state_dict`` tensor of the reloaded model equal (``torch.equal``) to the trained one;
3. **export** the checkpoint as ``recalib export CHECKPOINT --verify-data digits`` does, verified
   on the 449 test images on every CPU runtime that runs ONNX files here (what
   :mod:`recalib.deploy.availability` offers: onnxruntime, OpenVINO where installed): accuracy, top-1
   agreement with PyTorch, the largest logit error, each disagreement with its margins;
4. **count** parameters and multiply-adds (fvcore, :func:`recalib.profiling.counting.model_profile.profile_model`);
5. **time** every export at batch 1 on each of those runtimes, all models alternating in one
   worker process per runtime (:func:`recalib.deploy.bench.compare`), the overhead against the plain
   backbone with its 95% paired-bootstrap interval.

Writes ``benchmarks/results/trained-<arch>-<machine>-<date>.json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from record import add_record_options, now, record  # noqa: E402
from train_digits import MIN_ACCURACY, Schedule, Trained, train_spec  # noqa: E402

import recalib  # noqa: E402
from recalib.infra.workspace import temporary_folder  # noqa: E402
from recalib.deploy.availability import BACKENDS, backend, unavailable_reason  # noqa: E402
from recalib.deploy.bench import compare  # noqa: E402
from recalib.deploy.report import format_table  # noqa: E402
from recalib.deploy.results import BenchResult  # noqa: E402
from recalib.deploy.runner import opener  # noqa: E402
from recalib.deploy.runner_options import RunnerOptions  # noqa: E402
from recalib.deploy.settings import BenchSettings  # noqa: E402
from recalib.deploy.target import Target, parse_targets  # noqa: E402
from recalib.export.labelled import digits  # noqa: E402
from recalib.export.options import ExportOptions, PrepareOptions, Verification  # noqa: E402
from recalib.export.prepare import prepare  # noqa: E402
from recalib.export.prepared import Prepared  # noqa: E402
from recalib.profiling.counting.model_profile import profile_model  # noqa: E402
from recalib.errors import BenchmarkError  # noqa: E402
from recalib.spec import Spec, parse_spec  # noqa: E402

BLOCKS = ("se", "ge-theta-minus", "ge-theta", "ge-theta-plus", "cc-reduced", "cc-static", "ms-sar",
          "cmpe-se-double-fc", "cmpe-se-pair-2x1")
QUICK_BLOCKS = ("se", "ms-sar")
PLAIN = "plain"


@dataclass
class Row:
    """One trained model and everything measured of it."""

    label: str
    trained: Trained
    prepared: Prepared
    params: int
    macs: float


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="cifar_resnet20", help="the backbone, ARCH[:K=V,...] (default: cifar_resnet20)")
    p.add_argument("--block", action="append", default=None,
                   help=f"a block spec, repeatable (default: {', '.join(BLOCKS)})")
    p.add_argument("--epochs", type=int, default=Schedule.epochs)
    p.add_argument("--threads", type=int, default=1, help="threads of training and of each timed model")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--iters", type=int, default=200, help="timed rounds per runtime")
    p.add_argument("--quick", action="store_true", help="plain, se and ms-sar; 3 epochs; 50 rounds")
    add_record_options(p)
    args = p.parse_args(argv)
    if args.quick:
        args.block, args.epochs, args.warmup, args.iters = list(QUICK_BLOCKS), 3, 5, 50
    return args


def cpu_runtimes() -> tuple[Target, ...]:
    """Every runtime that runs ONNX files on the CPU and can run here."""
    return parse_targets([name for name in BACKENDS if backend(name).runs == "onnx"
                          and backend(name).device == "cpu" and unavailable_reason(name) is None])


def checkpoint_round_trip(trained: Trained, path: Path) -> Spec:
    """Save ``trained``, reload it, and fail unless every tensor came back bit for bit; the checkpoint's spec."""
    recalib.save_checkpoint(trained.model, path)
    saved, loaded = trained.model.state_dict(), recalib.load_checkpoint(path).state_dict()
    changed = [k for k in saved if k not in loaded or not torch.equal(saved[k], loaded[k])]
    if changed or saved.keys() != loaded.keys():
        raise BenchmarkError(f"{path} does not hold the trained weights: {changed[:3]} differ")
    return parse_spec(str(path))


def measure_model(label: str, spec: Spec, args: argparse.Namespace, folder: Path,
                  targets: tuple[Target, ...], log: Any) -> Row:
    """Train, checkpoint, export verified on the digits test split, and count one model."""
    trained = train_spec(spec, Schedule(epochs=args.epochs))
    log(f"{label}: test accuracy {100 * trained.accuracy:.2f}% after {trained.seconds:.1f} s of training")
    checkpoint = checkpoint_round_trip(trained, folder / f"{label}.safetensors")
    runtimes = {t.name: opener(t.runtime, RunnerOptions(threads=args.threads), device=t.device) for t in targets}
    verification = Verification(digits("test", spec.input_chw()), runtimes)
    options = PrepareOptions(export=ExportOptions(verification=verification))
    prepared = prepare(checkpoint, folder / f"{label}.onnx", options)
    prepared.label = label
    profile = profile_model(checkpoint)
    return Row(label, trained, prepared, int(profile.breakdown.total_params), profile.breakdown.total_flops)


def time_all(rows: list[Row], targets: tuple[Target, ...], args: argparse.Namespace, log: Any) -> BenchResult:
    settings = BenchSettings(targets, (1,), warmup=args.warmup, iters=args.iters, threads=args.threads)
    result = compare([row.prepared for row in rows], settings, progress=log)
    log(format_table(result))
    return result


def row_record(row: Row, base: Row, result: BenchResult) -> dict[str, Any]:
    """What the JSON and the table say of one model."""
    assert row.prepared.report is not None
    runtimes = {}
    for agreement in row.prepared.report.agreement:
        measured = result.get(agreement.runtime, 1, row.label)
        interval = measured.interval_pct()
        runtimes[agreement.runtime] = {
            "accuracy": agreement.runtime_correct / agreement.samples, "agreed": agreement.agreed,
            "samples": agreement.samples, "max_logit_error": agreement.max_logit_error,
            "closest_margin": agreement.closest_margin,
            "disagreements": [vars(d) for d in agreement.disagreements], "p50_ms": measured.stats.p50_ms,
            "overhead_pct": measured.overhead_pct, "overhead_ci_pct": list(interval) if interval else None}
    return {"model": row.label, "spec": row.trained.spec.text, "accuracy": row.trained.accuracy,
            "train_seconds": row.trained.seconds, "params": row.params, "macs": row.macs,
            "param_overhead_pct": 100 * (row.params / base.params - 1),
            "mac_overhead_pct": 100 * (row.macs / base.macs - 1),
            "max_rel_error": row.prepared.report.max_rel_error, "runtimes": runtimes}


def run(args: argparse.Namespace, log: Any) -> tuple[dict[str, Any], BenchResult]:
    torch.set_num_threads(args.threads)
    base = parse_spec(args.arch)
    targets = cpu_runtimes()
    specs = {PLAIN: base, **{block: base.with_block(block) for block in args.block or BLOCKS}}
    with temporary_folder("trained-") as tmp:
        rows = [measure_model(label, spec, args, tmp, targets, log) for label, spec in specs.items()]
        result = time_all(rows, targets, args, log)
    data = {"arch": args.arch, "input_chw": list(base.input_chw()), "epochs": args.epochs, "threads": args.threads,
            "schedule": vars(Schedule(epochs=args.epochs)), "min_accuracy": MIN_ACCURACY,
            "test_images": len(digits("test", base.input_chw())), "runtimes": [t.name for t in targets],
            "rows": [row_record(row, rows[0], result) for row in rows],
            "recorded": now()}
    return data, result


def _runtime_cells(record: dict[str, Any], runtimes: list[str]) -> list[str]:
    cells = []
    for name in runtimes:
        r = record["runtimes"][name]
        cells.append(f"{100 * r['accuracy']:.2f}% / {r['agreed']}/{r['samples']}")
    for name in runtimes:
        r = record["runtimes"][name]
        low, high = r["overhead_ci_pct"] or (0.0, 0.0)
        cells.append(f"baseline, {r['p50_ms']:.3f} ms" if r["overhead_pct"] is None else
                     f"{r['overhead_pct']:+.1f}% [{low:+.1f}, {high:+.1f}]")
    return cells


def markdown(data: dict[str, Any], result: BenchResult) -> str:
    """The result page: what was run, on what, the table, the disagreements, the timing run."""
    runtimes, machine = data["runtimes"], result.machine
    c, h, w = data["input_chw"]
    lines = [f"# Trained on the digits: {data['arch']} at {h}x{w} with each block, deployed on every CPU runtime", "",
             f"- recorded: {data['recorded']}",
             f"- machine: {machine.cpu}, {machine.cores_available} cores available, {machine.os}; load average "
             f"{machine.load_average} at the start of timing, {result.load_average_end} at the end",
             f"- packages: {machine.versions()}",
             f"- training: examples/train_digits.py, {data['epochs']} epochs of {data['schedule']['batch_size']} "
             f"images, SGD (Nesterov momentum 0.9, one-cycle peak lr {data['schedule']['lr']}, weight decay "
             f"{data['schedule']['weight_decay']}), seed {data['schedule']['seed']}, {data['threads']} thread(s); "
             f"1,348 training images",
             f"- test: the {data['test_images']} test images; bar {100 * data['min_accuracy']:.0f}% (chance 10%)",
             "- each export verified on the test images on every runtime (parity against float64 PyTorch, "
             "tolerance 1e-4); checkpoints round-tripped bit-exactly",
             f"- latency: batch 1, {result.settings.threads} thread(s), {result.settings.warmup} warm-up + "
             f"{result.settings.iters} rounds, all models alternated in one worker process per runtime; "
             f"overhead over {PLAIN} with its 95% paired-bootstrap interval", "",
             "| model | PyTorch accuracy | " + " | ".join(f"{r} accuracy / agreement" for r in runtimes)
             + " | params (+%) | MACs (+%) | " + " | ".join(f"{r} latency overhead" for r in runtimes)
             + " | training s |", "|" + "---|" * (5 + 2 * len(runtimes))]
    for record in data["rows"]:
        cells = [record["model"], f"{100 * record['accuracy']:.2f}%", *_runtime_cells(record, runtimes)]
        cells.insert(2 + len(runtimes), f"{record['params']:,} ({record['param_overhead_pct']:+.3f}%)")
        cells.insert(3 + len(runtimes), f"{record['macs'] / 1e6:.3f} M ({record['mac_overhead_pct']:+.3f}%)")
        lines.append("| " + " | ".join(cells) + f" | {record['train_seconds']:.0f} |")
    disagreed = [f"- {r['model']} on {name}: sample {d['index']} (label {d['label']}): PyTorch {d['pytorch_class']} "
                 f"by {d['pytorch_margin']:.1e}, {name} {d['runtime_class']} by {d['runtime_margin']:.1e}"
                 for r in data["rows"] for name, rt in r["runtimes"].items() for d in rt["disagreements"]]
    lines += ["", "## Disagreements", "", *(disagreed or ["None: every runtime made PyTorch's decision on "
                                                         "every test image of every model."])]
    lines += ["", "## Timing run", "", format_table(result, markdown=True), ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data, result = run(args, lambda message: print(f"[trained] {message}", flush=True))
    page = markdown(data, result)
    stem = record(args.out, f"trained-{data['arch']}", result.machine, data["recorded"], args.tag,
                  {**data, "timing": result.to_json(times=False)}, page)
    print(page.split("## Timing run")[0])
    print(f"wrote {stem}.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
