"""Export the whole zoo to verified ONNX; record export/verify time, file size and parity.

Every registered architecture is exported plain and with the block its paper pairs it with
(``PAPER_BLOCK``), at its nominal resolution, dynamic batch, opset 18, folding and the exact
runtime rewrites on, random weights (seed 0). In the deepest nets random weights amplify
float32 rounding past the 1e-4 parity tolerance (ResNet-152 + SE: PyTorch's own float32 output
is 2.7e-3 off its float64 one); the export then refuses to write and says so. Setting BatchNorm
statistics from random batches was tried: ResNet-152 + SE then passed, but ResNet-101,
ResNet-101 + GE-θ and ResNet-152 failed (1.1-4.2e-4), so the zoo keeps the default statistics.
Results go
to ``benchmarks/results/export_zoo.json`` and ``.md`` (rewritten after every model, so a long
run that is interrupted still leaves what it measured).

    python benchmarks/export_zoo.py                       # everything (slow: tens of minutes)
    python benchmarks/export_zoo.py --archs resnet18 cifar_resnet20 --threads 2
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import onnx
import onnxruntime
import torch

import export
import recalib
from recalib.errors import RecalibError
from recalib.models import list_models, model_spec

RESULTS = Path(__file__).parent / "results"

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


def export_one(arch: str, block: str | None, folder: Path, tolerance: float) -> dict[str, Any]:
    """Export one model; a row of the results table (with the error if it failed)."""
    spec = model_spec(arch)
    row: dict[str, Any] = {"arch": arch, "block": block, "input": [spec.in_channels, *spec.input_size]}
    start = time.perf_counter()
    try:
        torch.manual_seed(0)
        model = recalib.create_model(arch, block)
        row["params"] = sum(p.numel() for p in model.parameters())
        report = export.to_onnx(model, tuple(row["input"]), folder / f"{arch}-{block}.onnx",
                                write_report=False, force=True, tolerance=tolerance)
    except RecalibError as exc:
        row.update(status="error", error=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # a bug, not a user error: keep the trace for the record
        row.update(status="crash", error="".join(traceback.format_exception_only(exc)).strip())
    else:
        row.update(status="ok", export_s=round(report.export_seconds, 2),
                   verify_s=round(report.verify_seconds, 2), size_mb=round(report.size_bytes / 1e6, 2),
                   nodes=sum(report.op_histogram.values()), max_rel_error=report.max_rel_error,
                   trt_findings=len(report.trt_findings), folds=len(report.folding),
                   rewrites=report.rewrites)
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


def environment(threads: int) -> dict[str, Any]:
    """What the timings depend on."""
    return {"machine": platform.machine(), "processor": platform.processor(), "python": platform.python_version(),
            "torch": torch.__version__, "onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__,
            "torch_threads": threads, "date": time.strftime("%Y-%m-%d %H:%M:%S")}


def write(rows: list[dict[str, Any]], env: dict[str, Any]) -> None:
    """Rewrite the JSON and Markdown results."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "export_zoo.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=2))
    lines = ["# Export zoo", "", f"Environment: {json.dumps(env)}", "",
             "Opset 18, dynamic batch, folding and export.optimize on; random weights (seed 0); parity = "
             "onnxruntime CPU vs PyTorch at batch 1 and 3, max error relative to the largest output. "
             "Folds: folding actions; rewrites: export.optimize's rewrites that fired.", "",
             "| arch | block | params | status | export s | verify s | MB | nodes | max rel err | TRT findings "
             "| folds | rewrites |",
             "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        err = f"{r['max_rel_error']:.1e}" if "max_rel_error" in r else r.get("error", "")[:80]
        lines.append(f"| {r['arch']} | {r['block'] or '-'} | {r.get('params', '')} | {r['status']} | "
                     f"{r.get('export_s', '')} | {r.get('verify_s', '')} | {r.get('size_mb', '')} | "
                     f"{r.get('nodes', '')} | {err} | {r.get('trt_findings', '')} | {r.get('folds', '')} | "
                     f"{_short(r.get('rewrites', []))} |")
    (RESULTS / "export_zoo.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", nargs="*", default=None, help="architectures (default: all)")
    parser.add_argument("--plain-only", action="store_true", help="skip the paper block")
    parser.add_argument("--threads", type=int, default=1, help="torch/onnxruntime threads (default 1)")
    parser.add_argument("--tolerance", type=float, default=1e-4, help="parity tolerance (default 1e-4)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    env, rows = {**environment(args.threads), "tolerance": args.tolerance}, []
    with tempfile.TemporaryDirectory() as folder:
        for arch in args.archs or list_models():
            paired = [] if args.plain_only or arch not in PAPER_BLOCK else [PAPER_BLOCK[arch]]
            for block in [None, *paired]:
                rows.append(export_one(arch, block, Path(folder), args.tolerance))
                print(json.dumps(rows[-1]), flush=True)
                write(rows, env)


if __name__ == "__main__":
    main()
