"""Export the whole zoo to verified ONNX; record export/verify time, file size and parity.

Every registered architecture is exported plain and with the block its paper pairs it with
(``PAPER_BLOCK``), at its nominal resolution, dynamic batch, opset 18, folding and the exact
runtime rewrites on, through the one preparation step (:mod:`recalib.export.prepare`): random weights
from seed 0 with batch-norm statistics from random inputs, as ``recalib export`` makes them.
Parity is :mod:`recalib.export.parity`'s: onnxruntime against the float64 PyTorch model at batch 1 and
3, passing within the tolerance or no further from float64 than 2x float32 PyTorch is; each
row records both distances, so a failure shows whether the runtime or the model's own
conditioning is to blame. Results go to ``benchmarks/results/export_zoo.json`` and ``.md``
(rewritten after every model, so a long run that is interrupted still leaves what it measured).

    python benchmarks/export_zoo.py                       # everything (about 10 minutes on 2 cores)
    python benchmarks/export_zoo.py --arch resnet18 --arch cifar_resnet20 --threads 2
"""
from __future__ import annotations

import argparse
import json
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from record import RESULTS, write_pair

from recalib.deploy import machine_info
from recalib.export.options import ExportOptions, PrepareOptions
from recalib.export.prepare import build, export_prepared
from recalib.infra.workspace import temporary_folder
from recalib.errors import RecalibError
from recalib.models import list_models
from recalib.spec import parse_spec

# The block each backbone's paper measures it with (the first row of its table).
PAPER_BLOCK = {
    "resnet18": "se", "resnet34": "se", "resnet50": "ge-theta", "resnet101": "ge-theta",
    "resnet152": "se", "resnext50_32x4d": "ms-sar", "shufflenet_v1_g3": "ge-theta",
    "cifar_resnet20": "ms-sar", "cifar_resnet32": "ms-sar", "cifar_resnet56": "ms-sar",
    "cifar_resnet110": "ms-sar", "preact_resnet20": "se", "preact_resnet32": "se",
    "preact_resnet56": "se", "preact_resnet110": "cmpe-se-pair-1x1",
    "preact_resnet164": "cmpe-se-pair-1x1", "wrn16_8": "cmpe-se-pair-1x1",
    "wrn22_10": "cmpe-se-pair-1x1", "wrn28_10": "cmpe-se-pair-1x1", "densenet_bc100": "ms-sar",
    "densenet_bc190": "ms-sar", "cc_vgg_mnist": "cc-static", "cc_vgg_cifar10": "cc-static",
    "cc_vgg_cifar100": "cc-full",
}


def _parity(report: Any) -> dict[str, Any]:
    """The worst parity check: the runtime's and float32 PyTorch's distance from float64, and the bound."""
    worst = max(report.parity, key=lambda p: p.error / p.bound if p.bound else p.error)
    return {"max_rel_error": worst.error, "pytorch_error": worst.pytorch_error, "bound": worst.bound,
            "reference": worst.reference_dtype}


def export_one(arch: str, block: str | None, folder: Path, options: PrepareOptions) -> dict[str, Any]:
    """Export one model; a row of the results table (with the error if it failed)."""
    row: dict[str, Any] = {"arch": arch, "block": block}
    start = time.perf_counter()
    try:
        spec = parse_spec(arch if block is None else f"{arch}+{block}")
        row["input"] = list(spec.input_chw())
        prepared = build(spec, options)
        assert prepared.module is not None
        row["params"] = sum(p.numel() for p in prepared.module.parameters())  # recorded even if the export fails
        report = export_prepared(prepared, folder / "model.onnx", options).report
        assert report is not None
    except RecalibError as exc:
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug, not a user error: keep the trace for the record
        row.update(status="crash", error="".join(traceback.format_exception_only(exc)).strip())
    else:
        row.update(status="ok", export_s=round(report.export_seconds, 2),
                   verify_s=round(report.verify_seconds, 2), size_mb=round(report.size_bytes / 1e6, 2),
                   nodes=sum(report.op_histogram.values()), **_parity(report),
                   trt_findings=len(report.trt_findings), folds=len(report.folding), rewrites=report.rewrites)
    row["wall_s"] = round(time.perf_counter() - start, 2)
    return row


def _short(rewrites: list[str]) -> str:
    """``name xN`` per rewrite: layout lines read ``name xN: what``, module lines ``path: name (what)``."""
    counts: Counter[str] = Counter()
    for line in rewrites:
        head, _, rest = line.partition(": ")
        name, _, times = head.rpartition(" x")
        if name and times.isdigit():
            counts[name] += int(times)
        else:
            counts[rest.split(" (")[0]] += 1
    return ", ".join(f"{name} x{n}" for name, n in counts.items())


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.1e}"


def markdown(rows: list[dict[str, Any]], env: dict[str, Any]) -> str:
    """The results table with the machine and settings."""
    ok = sum(r["status"] == "ok" for r in rows)
    lines = ["# Export zoo", "",
             f"- recorded: {env['date']}, {ok} of {len(rows)} exports verified",
             f"- machine: {env['machine']['cpu']}, {env['machine']['cores_available']} cores available; load "
             f"average {env['machine']['load_average']} at start, {env.get('load_average_end')} at end",
             f"- settings: {env['torch_threads']} torch threads, tolerance {env['tolerance']:g}",
             "", "Opset 18, dynamic batch, folding and export.optimize on; random weights (seed 0) with batch-norm "
             "statistics from random inputs. Parity: onnxruntime CPU against the float64 PyTorch model at batch 1 "
             "and 3; *error* is the runtime's distance from float64 relative to the largest output, *PyTorch "
             "float32* the same distance for PyTorch's own float32 run, *bound* = max(tolerance, 2 x PyTorch "
             "float32): an export passes when its error is within the bound. Folds: folding actions; rewrites: "
             "export.optimize's rewrites that fired.", "",
             "| arch | block | params | status | export s | verify s | MB | nodes | error | PyTorch float32 | bound "
             "| TRT findings | folds | rewrites |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        error = _cell(r.get("max_rel_error")) if r["status"] == "ok" else r.get("error", "")[:160]
        lines.append(f"| {r['arch']} | {r['block'] or '-'} | {r.get('params', '')} | {r['status']} | "
                     f"{r.get('export_s', '')} | {r.get('verify_s', '')} | {r.get('size_mb', '')} | "
                     f"{r.get('nodes', '')} | {error} | {_cell(r.get('pytorch_error'))} | {_cell(r.get('bound'))} | "
                     f"{r.get('trt_findings', '')} | {r.get('folds', '')} | {_short(r.get('rewrites', []))} |")
    return "\n".join(lines) + "\n"


def write(folder: Path, rows: list[dict[str, Any]], env: dict[str, Any]) -> None:
    """Rewrite the JSON and Markdown results in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    write_pair(folder / "export_zoo", {"environment": env, "rows": rows}, markdown(rows, env))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", action="append", default=None, help="an architecture, repeatable (default: all)")
    parser.add_argument("--plain-only", action="store_true", help="skip the paper block")
    parser.add_argument("--threads", type=int, default=1, help="torch/onnxruntime threads (default 1)")
    parser.add_argument("--tolerance", type=float, default=ExportOptions.tolerance,
                        help=f"parity tolerance (default {ExportOptions.tolerance:g})")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the results folder (default: benchmarks/results)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    options = PrepareOptions(export=ExportOptions(tolerance=args.tolerance, force=True, write_report=False))
    env: dict[str, Any] = {"machine": machine_info.collect().to_dict(), "torch_threads": args.threads,
                           "tolerance": args.tolerance, "date": time.strftime("%Y-%m-%d %H:%M:%S")}
    rows: list[dict[str, Any]] = []
    with temporary_folder("export-zoo-") as folder:
        for arch in args.arch or list_models():
            paired = [] if args.plain_only or arch not in PAPER_BLOCK else [PAPER_BLOCK[arch]]
            for block in [None, *paired]:
                rows.append(export_one(arch, block, folder, options))
                print(json.dumps(rows[-1]), flush=True)
                env["load_average_end"] = machine_info.load_average()
                write(args.out, rows, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
