"""Deploying at the precision you ship: fp32, bf16 and int8 on the CPU runtimes, with decisions on real data.

    python benchmarks/precision.py              # digits-trained CIFAR ResNet-20 of each block family, and ResNet-50
    python benchmarks/precision.py --quick      # ResNet-20 plain and + SE at 8x8, one epoch, a few rounds: a smoke run

For each model (the plain backbone first, then each block):

1. **weights**: the digits-trained CIFAR ResNet-20 checkpoints cached in ``--weights`` (trained with
   ``examples/train_digits.py``'s loop and schedule when missing); ResNet-50 with random weights;
2. **export** it twice, as ``recalib export`` does: float32, and int8 (the QDQ graph of
   :mod:`recalib.export.quantize`, calibrated on the digits' training split, ResNet-50 on random images);
   on the digits each is verified on the 449 test images on every CPU runtime (top-1 agreement with
   float32 PyTorch, accuracy, largest logit error), bf16 on OpenVINO too, where the CPU has native bf16.
   int8 tries the settings of :data:`INT8_SETTINGS` in turn (calibration method, then the gates in float)
   and keeps the first that meets the int8 bounds on every runtime; each row names the setting it used,
   and a model no setting brings within the bounds is listed with every setting's result, untimed at int8;
3. **time** every (model, precision) pair of one runtime and batch alternating in one process, one thread:
   the speed-up over float32 and the block's overhead over the plain model at the same precision come
   from the same rounds.

Writes ``<out>/<name>.json`` and ``.md`` (``--out``, default ``benchmarks/results``; ``--name``, default ``precision``).
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from record import RESULTS, now, write_pair  # noqa: E402
from train_digits import Schedule, train_spec  # noqa: E402

import recalib  # noqa: E402
from recalib.deploy import machine_info  # noqa: E402
from recalib.deploy.availability import check_precision, unavailable_reason  # noqa: E402
from recalib.deploy.runner import create_runner, opener  # noqa: E402
from recalib.deploy.runner_options import RunnerOptions  # noqa: E402
from recalib.deploy.stats import LatencyStats, summarize  # noqa: E402
from recalib.deploy.timing import time_alternating  # noqa: E402
from recalib.errors import ConfigError, RecalibError, VerificationError  # noqa: E402
from recalib.export.agreement import AgreementCheck, verify_on_data  # noqa: E402
from recalib.export.labelled import LabelledData, digits  # noqa: E402
from recalib.export.options import ExportOptions, PrepareOptions, Quantization, Verification  # noqa: E402
from recalib.export.parity import AtPrecision  # noqa: E402
from recalib.export.prepare import prepare  # noqa: E402
from recalib.export.prepared import Prepared  # noqa: E402
from recalib.export.quantize.calibration import CalibrationSet, load_calibration  # noqa: E402
from recalib.infra.workspace import temporary_folder  # noqa: E402
from recalib.spec import Spec, parse_spec  # noqa: E402

BLOCKS = ("se", "ge-theta-minus", "cc-reduced", "ms-sar", "cmpe-se-double-fc")
QUICK_BLOCKS = ("se",)
PLAIN = "plain"
WEIGHTS = RESULTS / "precision-weights"
RUNTIMES = ("ort-cpu", "openvino-cpu")
TABLE_PRECISIONS = ("fp32", "bf16", "int8")


# int8 settings in the order tried: (calibration method, gates in float). The recipe as it is first; then
# ranges that clip rare tails; then the gates in float, the mixed-precision setting a gate's rounding calls for.
INT8_SETTINGS = (("minmax", False), ("percentile", False), ("minmax", True), ("percentile", True))


@dataclass
class Model:
    """One model's float32 and int8 exports and their decisions on the digits (none for random weights);
    ``setting`` is the int8 setting that met the bounds, ``int8`` None when none did (``tries`` says why)."""

    family: str
    label: str
    prepared: Prepared
    int8: Prepared | None
    data: str
    agreement: list[AgreementCheck] = field(default_factory=list)
    setting: str | None = None
    tries: list[str] = field(default_factory=list)


def describe_setting(method: str, gates_in_float: bool) -> str:
    """An int8 setting as the table names it."""
    return f"{method}" + (", gates in float" if gates_in_float else "")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="ResNet-20 plain and + SE at 8x8, one epoch, 3 rounds")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help="the digits-trained checkpoints (trained if missing)")
    p.add_argument("--epochs", type=int, default=10, help="epochs of a model trained here (default 10, as examples/train_digits.py)")
    p.add_argument("--block", action="append", default=None, help=f"a block family (repeatable; default: {', '.join(BLOCKS)})")
    p.add_argument("--no-resnet20", dest="resnet20", action="store_false", help="leave out the digits-trained ResNet-20")
    p.add_argument("--no-resnet50", dest="resnet50", action="store_false", help="leave out ResNet-50")
    p.add_argument("--name", default="precision", help="the result files' name (default precision)")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    p.add_argument("--iters", type=int, default=15)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS, help="where precision.json and .md go")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.iters, args.warmup, args.epochs, args.resnet50 = [1], 3, 1, 1, False
    return args


def runtimes() -> list[str]:
    """The CPU runtimes that run here."""
    return [r for r in RUNTIMES if unavailable_reason(r) is None]


def _refusal(runtime: str, precision: str) -> str | None:
    """Why ``runtime`` does not compute in ``precision`` here (None: it does)."""
    try:
        check_precision(runtime, precision)
    except RecalibError as exc:
        return str(exc)
    return None


def not_offered() -> list[tuple[str, str, str]]:
    """(runtime, precision, why) of each precision of the table a CPU runtime does not compute in here."""
    return [(r, p, why) for r in RUNTIMES for p in TABLE_PRECISIONS if (why := _refusal(r, p)) is not None]


def precisions(runtime: str) -> list[str]:
    """What ``runtime`` computes in here: fp32, bf16 where native, int8."""
    return [p for p in TABLE_PRECISIONS if _refusal(runtime, p) is None]


def trained_spec(block: str, args: argparse.Namespace) -> Spec:
    """The checkpoint of CIFAR ResNet-20 (``plain``) or + ``block`` trained on the digits, trained now if missing."""
    path = args.weights / f"{block}.safetensors"
    if not path.is_file():
        arch = "cifar_resnet20:input_size=(8,8)" if args.quick else "cifar_resnet20"
        spec = parse_spec(arch if block == PLAIN else f"{arch}+{block}")
        args.weights.mkdir(parents=True, exist_ok=True)
        recalib.save_checkpoint(train_spec(spec, Schedule(epochs=args.epochs)).model, path)
    return parse_spec(str(path))


def _openers(data: LabelledData | None, precision: str) -> Verification:
    options = RunnerOptions(precision=None if precision == "fp32" else precision)
    return Verification(data, {r: opener(r, options) for r in runtimes() if precision in precisions(r)})


def export_model(family: str, label: str, spec: Spec, folder: Path, calibration: str, on_digits: bool) -> Model:
    """``spec`` exported in float32 and int8 (each verified), with its bf16 decisions on OpenVINO."""
    chw = spec.input_chw()
    data = digits("test", chw) if on_digits else None
    fp32 = prepare(spec, folder / f"{family}-{label}.onnx",
                   PrepareOptions(export=ExportOptions(verification=_openers(data, "fp32"), write_report=False)))
    model = Model(family, label, fp32, None, data.name if data else "random inputs")
    _int8(model, spec, folder / f"{family}-{label}.int8.onnx", load_calibration(calibration, chw), data)
    assert fp32.report is not None and fp32.file is not None
    int8_checks = model.int8.report.agreement if model.int8 is not None and model.int8.report is not None else []
    model.agreement = [a for a in (*fp32.report.agreement, *int8_checks) if a.runtime in RUNTIMES]
    bf16 = _openers(data, "bf16").runtimes
    if data is not None and bf16 and fp32.derived is not None and fp32.module is not None:
        truth = AtPrecision(fp32.derived.truth, fp32.module, "bf16")
        model.agreement += verify_on_data(fp32.file, truth, data, 1e-4, bf16)[1]
    return model


def _int8(model: Model, spec: Spec, path: Path, calibration: CalibrationSet, data: LabelledData | None) -> None:
    """``model``'s int8 export with the first of :data:`INT8_SETTINGS` that meets the int8 bounds on every runtime
    (its setting recorded); every setting that did not, with why, in ``model.tries``."""
    for method, gates_in_float in INT8_SETTINGS:
        setting = describe_setting(method, gates_in_float)
        try:
            model.int8 = prepare(spec, path, PrepareOptions(export=ExportOptions(
                precision="int8", quantization=Quantization(calibration, gates_in_float, method),
                verification=_openers(data, "int8"), write_report=False)))
        except (VerificationError, ConfigError) as exc:  # outside the bounds, or a method that does not fit in memory
            model.tries.append(f"{setting}: {exc}")
            print(f"[precision] {spec.text} int8 ({setting}): {exc}", flush=True)
            continue
        model.setting = setting
        return


def time_runtime(models: list[Model], runtime: str, batch: int,
                 args: argparse.Namespace) -> dict[tuple[str, str, str], LatencyStats]:
    """Every (model, precision) of ``runtime`` at ``batch``, alternating, one thread: ``(family, label, precision)`` → stats."""
    keys, steps = [], []
    for model in models:
        for precision in precisions(runtime):
            exported = model.int8 if precision == "int8" else model.prepared
            if exported is None:
                continue  # no int8 setting met the bounds: listed with its tries, not timed
            file = exported.file
            assert file is not None
            runner = create_runner(runtime, file, RunnerOptions(threads=1, precision=None if precision == "fp32" else precision))
            keys.append((model.family, model.label, precision))
            steps.append(runner.prepare((batch, *model.prepared.input_chw)))
    times = time_alternating(steps, args.warmup, args.iters)
    return {key: summarize(t, batch=batch) for key, t in zip(keys, times)}


def _decisions(model: Model, runtime: str, precision: str) -> dict[str, Any]:
    found = [a for a in model.agreement if a.runtime == runtime and a.precision == precision]
    if not found:
        return {}
    a = found[0]
    return {"agreement": a.agreement, "accuracy": a.runtime_correct / a.samples,
            "pytorch_accuracy": a.pytorch_correct / a.samples, "max_logit_error": a.max_logit_error,
            "disagreements": len(a.disagreements)}


def rows(models: list[Model], timings: dict[tuple[str, int], dict[tuple[str, str, str], LatencyStats]]) -> list[dict[str, Any]]:
    """One row per family, model, runtime, batch and precision: latency, speed-up, overhead, decisions."""
    out = []
    for (runtime, batch), stats in timings.items():
        for (family, label, precision), s in stats.items():
            model = next(m for m in models if (m.family, m.label) == (family, label))
            fp32, plain = stats[(family, label, "fp32")], stats.get((family, PLAIN, precision))
            out.append({"family": family, "model": label, "runtime": runtime, "batch": batch, "precision": precision,
                        "p50_ms": s.p50_ms, "spread": s.spread, "speedup": fp32.p50_ms / s.p50_ms,
                        "overhead_pct": None if plain is None or label == PLAIN else 100 * (s.p50_ms / plain.p50_ms - 1),
                        "data": model.data, "int8_setting": model.setting if precision == "int8" else None,
                        **_decisions(model, runtime, precision)})
    return out


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def markdown(data: dict[str, Any]) -> str:
    lines = ["# Precision: fp32, bf16 and int8 on the CPU runtimes", "",
             f"Recorded {data['recorded']} on {data['machine']['cpu']} ({data['machine']['cores_available']} cores), "
             f"load average {data['load_start']} at start, {data['load_end']} at end; {data['cpu_flags']}. "
             f"1 thread, {data['iters']} alternated rounds after {data['warmup']} warm-up; speed-up = fp32 p50 / "
             f"this p50 (same model, runtime, batch, same rounds); overhead = this p50 / the plain model's p50 at "
             f"the same precision - 1. `spread` is the series' own (deploy.stats). int8: "
             f"{data['recipe']}.", "",
             "| model | runtime | batch | precision | int8 setting | p50 ms | spread | speed-up | block overhead | "
             "agreement | accuracy (fp32 PyTorch) | largest logit error | data |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in data["rows"]:
        overhead = "–" if r["overhead_pct"] is None else f"{r['overhead_pct']:+.1f}%"
        accuracy = "–" if "accuracy" not in r else f"{_pct(r['accuracy'], 2)} ({_pct(r['pytorch_accuracy'], 2)})"
        error = "–" if "max_logit_error" not in r else f"{r['max_logit_error']:.2g}"
        lines.append(f"| {r['family']} {r['model']} | {r['runtime']} | {r['batch']} | {r['precision']} | "
                     f"{r.get('int8_setting') or '–'} | {r['p50_ms']:.3f} | {r['spread']:.2f} | {r['speedup']:.2f}x | "
                     f"{overhead} | {_pct(r.get('agreement'), 2)} | {accuracy} | {error} | {r['data']} |")
    lines += ["", f"int8 settings tried in this order, the first within the bounds on every runtime kept: "
              f"{'; '.join(data['settings'])}.", ""]
    lines += [f"- not measured: {runtime} {precision}: {why}" for runtime, precision, why in data["not_offered"]]
    for family, label, tries in data["not_reached"]:
        lines += [f"- **{family} {label}: no int8 setting meets the bounds**, so it has no int8 row:"]
        lines += [f"  - {t}" for t in tries]
    lines += ["", "## Where each gate computes at int8 (onnxruntime QDQ graph)", ""]
    lines += [f"- {family} {label}: {text}" for family, label, text in data["gates"]]
    return "\n".join(lines) + "\n"


def _gates(model: Model) -> str:
    if model.int8 is None:
        return "not quantised: no setting met the bounds"
    assert model.int8.report is not None
    gates = model.int8.report.quantization["gates"]
    whole = sum(1 for g in gates if not g["float"])
    float_ops = sorted({n.split(":")[0] for g in gates for n in g["float"]})
    return (f"{len(gates)} gates, {whole} wholly int8" + (f"; in float: {', '.join(float_ops)}" if float_ops else "")
            if gates else "no gates")


def _cpu_flags() -> str:
    flags = set(Path("/proc/cpuinfo").read_text().split()) if Path("/proc/cpuinfo").is_file() else set()
    wanted = ("avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")
    return "CPU flags " + ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in wanted)


def run(args: argparse.Namespace, log: Any) -> dict[str, Any]:
    start = machine_info.collect()
    models: list[Model] = []
    with temporary_folder("precision-") as folder:
        blocks = QUICK_BLOCKS if args.quick else tuple(args.block or BLOCKS)
        for block in (PLAIN, *blocks) if args.resnet20 else ():
            models.append(export_model("resnet20-digits", block, trained_spec(block, args), folder, "digits", True))
            log(f"exported resnet20 {block}")
        if args.resnet50:
            for label, text in ((PLAIN, "resnet50"), ("se", "resnet50+se")):
                models.append(export_model("resnet50-random", label, parse_spec(text), folder, "random", False))
                log(f"exported resnet50 {label}")
        timings = {}
        for runtime in runtimes():
            for batch in args.batch:
                timings[(runtime, batch)] = time_runtime(models, runtime, batch, args)
                log(f"timed {runtime} batch {batch}")
    end = machine_info.collect()
    return {"recorded": now(), "machine": start.to_dict(), "load_start": start.load_average,
            "load_end": end.load_average, "cpu_flags": _cpu_flags(), "iters": args.iters, "warmup": args.warmup,
            "recipe": "int8 weights per output channel, uint8 activations, ranges from 256 calibration images by "
                      "the row's setting, QDQ",
            "settings": [describe_setting(*s) for s in INT8_SETTINGS], "not_offered": not_offered(),
            "not_reached": [(m.family, m.label, m.tries) for m in models if m.int8 is None],
            "rows": rows(models, timings), "gates": [(m.family, m.label, _gates(m)) for m in models]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = run(args, lambda msg: print(f"[precision] {msg}", flush=True))
    args.out.mkdir(parents=True, exist_ok=True)
    write_pair(args.out / args.name, data, markdown(data))

    print(markdown(data))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
