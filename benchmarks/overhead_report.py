"""The page of ``benchmarks/overhead.py``: overheads per runtime, the runtime where each block costs
least against issue 15's targets, speed-ups over PyTorch, and the executed-graph evidence.

Everything here reads the recorded JSON (``overhead.py --render`` rewrites a page from it):
overheads are recomputed from every round's time with :func:`recalib.deploy.stats.ratio`, so an
export's plain and optimised forms are each compared with the plain backbone exported the
same way, in the same rounds. Each runtime at a batch is one run, ``runs[run_key(runtime, batch)]``,
holding both exports of an ONNX runtime in the same rounds, the plain ones labelled by
:func:`recalib.profiling.latency.audit.run_label` (``<label> [plain export]``); records made
in December 2026 before the audit paired its exports hold one run per series
(``runs[run_key(series, batch)]``) and still render.
"""
from __future__ import annotations

from typing import Any

from recalib.deploy.stats import RatioStats, ratio
from recalib.profiling.latency.audit import BASELINE, run_label

__all__ = ["TARGETS", "SPEEDUP_TARGETS", "QUICK_BLOCKS", "run_key", "round_times", "series", "series_names", "median_ms",
           "summarize", "markdown"]

# block spec -> issue 15's target: the least median overhead on a CPU runtime, percent, at batch 1 / 8
TARGETS: dict[str, tuple[float, float]] = {
    "se": (4, 8), "ge-theta-minus:extent=8": (4, 8), "ge-theta": (6, 10), "ms-sar": (10, 15),
    "cc-reduced": (15, 20), "cc-static": (3, 6), "cc-static-scalar": (0, 0)}
# the fastest ONNX runtime over torch.compile and over torch eager, every model, batch 1 and 8
SPEEDUP_TARGETS = {"torch-compile": 1.15, "torch-eager": 1.5}
QUICK_BLOCKS = ("se", "ms-sar")
BLOCK_NOTES = {
    "ms-sar": "on ResNet-50 the library builds MS-SAR with r = 16, the paper's ImageNet setting (Table 5; "
              "`recalib/models/block_defaults.py`): the issue's `ms-sar:reduction=16`",
    "cc-static": "its θ is drawn from N(0, 0.5²) by the preparation step: at the initial θ = 0 the map is all "
                 "ones, a multiply OpenVINO deletes",
    "cc-static-scalar": "folds into the preceding convolution (no node left): its row shows the run's noise",
}


def run_key(series: str, batch: int) -> str:
    """The run of ``series`` (``ort-cpu plain``, ``torch-eager``) at ``batch``: ``ort-cpu-plain-b1``."""
    return f"{series.replace(' ', '-')}-b{batch}"


def round_times(data: dict[str, Any], series: str, batch: int, label: str) -> list[float] | None:
    """Every round of ``label`` in ``series`` at ``batch``, in nanoseconds (None: not measured)."""
    runtime, _, export = series.partition(" ")
    run = data["runs"].get(run_key(runtime, batch))
    if run is not None:  # both exports of the runtime in the same rounds
        label = run_label(label, export)
    else:  # a December 2026 record: one run per series
        run = data["runs"].get(run_key(series, batch))
    found = None if run is None else next((m for m in run["bench"]["measurements"] if m["model"] == label), None)
    return None if found is None else [t * 1e6 for t in found["times_ms"]]


def _cell(stats: RatioStats) -> dict[str, float]:
    return {"pct": stats.overhead_pct, "ci_low": (stats.ci_low - 1) * 100, "ci_high": (stats.ci_high - 1) * 100,
            "min_pct": (stats.min_ratio - 1) * 100}


def series(data: dict[str, Any], batch: int, label: str) -> dict[str, dict[str, float]]:
    """Series name -> the block's overhead against the plain backbone of the same run and export."""
    found = {}
    for runtime in data["runtimes"]:
        for export in ("optimized", "plain") if runtime in data["onnx_runtimes"] else ("",):
            name = f"{runtime} {export}".strip()
            times, base = round_times(data, name, batch, label), round_times(data, name, batch, BASELINE)
            if times is not None and base is not None:
                found[name] = _cell(ratio(times, base))
    return found


def _no_node(data: dict[str, Any], label: str) -> bool:
    """Whether every optimised export of ``label`` has the plain backbone's ops: the block left no node."""
    exports = data["exports"].get("optimized", {})
    return bool(exports) and all(facts["ops"] == exports[BASELINE][runtime]["ops"]
                                 for runtime, facts in exports.get(label, {}).items())


def _target(label: str, batch: int) -> float | None:
    targets = TARGETS.get(label)
    return None if targets is None or batch not in (1, 8) else targets[0 if batch == 1 else 1]


def overhead_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per batch and block: every series' overhead, the series where it costs least, the target."""
    rows = []
    for batch in data["batches"]:
        for label in data["labels"][1:]:
            cells = series(data, batch, label)
            best = min(cells, key=lambda name: cells[name]["pct"], default=None)
            target = _target(label, batch)
            met = None if target is None or best is None else (
                _no_node(data, label) if target == 0 else cells[best]["pct"] <= target)
            rows.append({"model": label, "batch": batch, "series": cells, "best": best, "target_pct": target,
                         "met": met})
    return rows


def median_ms(data: dict[str, Any], name: str, batch: int, label: str) -> float | None:
    """The median latency of ``label`` in series ``name`` at ``batch`` (None if not measured)."""
    times = round_times(data, name, batch, label)
    return None if times is None else sorted(times)[len(times) // 2] / 1e6


def speedup_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per batch and model: median ms per series, the fastest ONNX one, its speed-up over PyTorch."""
    rows = []
    for batch in data["batches"]:
        for label in data["labels"]:
            found = {name: median_ms(data, name, batch, label) for name in series_names(data)}
            ms = {name: value for name, value in found.items() if value is not None}
            onnx = [n for n in ms if n.split()[0] in data["onnx_runtimes"]]
            fastest = min(onnx, key=ms.__getitem__, default=None)
            speedups = {torch: ms[torch] / ms[fastest] for torch in SPEEDUP_TARGETS if torch in ms and fastest}
            met = all(speedups[t] >= SPEEDUP_TARGETS[t] for t in speedups) if speedups else None
            rows.append({"model": label, "batch": batch, "ms": ms, "fastest_onnx": fastest, "speedups": speedups,
                         "met": met})
    return rows


def series_names(data: dict[str, Any]) -> list[str]:
    """Every series name, in the page's column order."""
    return [f"{r} {e}".strip() for r in data["runtimes"]
            for e in (("plain", "optimized") if r in data["onnx_runtimes"] else ("",))]


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """The summary tables, recomputed from the recorded rounds."""
    return {"overheads": overhead_rows(data), "speedups": speedup_rows(data)}


def _pct(cell: dict[str, float] | None, bold: bool = False) -> str:
    if cell is None:
        return "–"
    text = f"{cell['pct']:+.1f}% [{cell['ci_low']:+.1f}, {cell['ci_high']:+.1f}]"
    return f"**{text}**" if bold else text


def _yes(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")


def _head(data: dict[str, Any]) -> list[str]:
    m = data["machine"]
    chw = "x".join(map(str, data["input_chw"]))
    loads = "; ".join(f"{key} {run['bench']['machine']['load_average']} -> {run['bench']['load_average_end']}"
                      for key, run in data["runs"].items())
    return [f"# {data['arch']} block overheads per CPU runtime ({data['recorded']})", "",
            f"- machine: {m['cpu']}, {m['cores_available']} cores available, {m['os']}",
            f"- load average at start {m['load_average']}, at end {data['load_average_end']}; per run: {loads}",
            f"- packages: {', '.join(f'{k} {v}' for k, v in m['packages'].items() if v)}",
            f"- input {chw}, {data['threads']} threads per runtime, each runtime in its own worker process, "
            f"models alternated round by round; onnxruntime threads "
            f"{'spin during a run only' if data['spinning'] else 'never spin'}; torch.compile: Inductor with "
            f"freezing" + ("; **quick smoke run: few rounds, not a measurement**" if data.get("quick") else ""),
            *[f"- `{label}`: {BLOCK_NOTES[label]}" for label in data["labels"] if label in BLOCK_NOTES]]


def _overhead_table(data: dict[str, Any]) -> list[str]:
    names = series_names(data)
    lines = ["## Overheads", "",
             "Median latency over the plain backbone on the same runtime and export, in the same rounds "
             "[95% paired-bootstrap interval]; *plain* exports have no `recalib.export.optimize` rewrites, *optimized* "
             "ones are each runtime's own target's form. Bold: the series where the block costs least; the "
             "target is issue 15's for that series (scalar gates: no node left).", "",
             "| block | batch | " + " | ".join(names) + " | least on | target | met |", "|" + "---|" * (len(names) + 5)]
    for row in data["overheads"]:
        cells = [_pct(row["series"].get(n), n == row["best"]) for n in names]
        target = "" if row["target_pct"] is None else f"<= {row['target_pct']:g}%"
        lines.append(f"| {row['model']} | {row['batch']} | " + " | ".join(cells)
                     + f" | {row['best'] or '–'} | {target} | {_yes(row['met'])} |")
    return lines


def _speedup_table(data: dict[str, Any]) -> list[str]:
    names = series_names(data)
    wanted = ", ".join(f"{t} >= {v:g}x" for t, v in SPEEDUP_TARGETS.items())
    lines = ["## Speed-ups", "", f"Median ms per series (different runs: not paired); the fastest ONNX series "
             f"of each model against torch.compile and torch eager (targets: {wanted}).", "",
             "| model | batch | " + " | ".join(names) + " | fastest ONNX | " + " | ".join(
                 f"over {t}" for t in SPEEDUP_TARGETS) + " | met |", "|" + "---|" * (len(names) + 4 + len(SPEEDUP_TARGETS))]
    for row in data["speedups"]:
        cells = [f"{row['ms'][n]:.1f}" if n in row["ms"] else "–" for n in names]
        ups = [f"{row['speedups'][t]:.2f}x" if t in row["speedups"] else "–" for t in SPEEDUP_TARGETS]
        lines.append(f"| {row['model']} | {row['batch']} | " + " | ".join(cells)
                     + f" | {row['fastest_onnx'] or '–'} | " + " | ".join(ups) + f" | {_yes(row['met'])} |")
    return lines


def _extra_ms(graph: dict[str, Any], base: dict[str, Any]) -> str:
    """Fastest-run milliseconds by layer type beyond the plain backbone's, largest first."""
    extra = {t: ms - base["min_ms_by_type"].get(t, 0.0) for t, ms in graph["min_ms_by_type"].items()}
    return ", ".join(f"{t} {ms:+.2f}" for t, ms in sorted(extra.items(), key=lambda kv: -abs(kv[1]))[:5])


def _evidence(data: dict[str, Any]) -> list[str]:
    lines = ["## Executed-graph evidence", ""]
    for key, found in data["evidence"].items():
        runtime, batch = key.removeprefix("evidence-").rsplit("-b", 1)
        if runtime == "ort-cpu":
            lines += [f"### onnxruntime CPU: layout copies (ReorderInput/Output in its optimised graph)", "",
                      "| model | plain | optimized | NCHWc nodes (optimized) |", "|---|---|---|---|"]
            lines += [f"| {label} | {e['plain']['reorders']} | {e['optimized']['reorders']} | "
                      f"{e['optimized']['nchwc_nodes']} |" for label, e in found.items()]
        else:
            lines += [f"### OpenVINO CPU at batch {batch}: reorders, fused layers, time by layer type", "",
                      "Extra ms: fastest of the profiled runs, summed by layer type, minus the plain backbone's "
                      "(same export).", "", "| model | reorders plain → optimized | layers (optimized) | "
                      "extra ms by type, optimized | top fusions (optimized) |", "|---|---|---|---|---|"]
            base = found[BASELINE]["optimized"]
            for label, e in found.items():
                opt = e["optimized"]
                fusions = ", ".join(f"{k} ×{n}" for k, n in list(opt["fusions"].items())[:2])
                lines.append(f"| {label} | {e['plain']['reorders']} → {opt['reorders']} | "
                             f"{sum(opt['count_by_type'].values())} | {_extra_ms(opt, base)} | {fusions} |")
        lines.append("")
    return lines


def _failures(data: dict[str, Any]) -> list[str]:
    """What the audit could not measure, and why (nothing when everything was measured)."""
    failed = data.get("failures") or []
    return ["## Not measured", "", *(f"- {f['stage']}, {f['what']}: {f['error']}" for f in failed), ""] if failed else []


def markdown(data: dict[str, Any]) -> str:
    """The page: head, overheads, speed-ups, evidence, what was not measured, then every run's own table."""
    lines = [*_head(data), "", *_overhead_table(data), "", *_speedup_table(data), "", *_evidence(data),
             *_failures(data), "## Runs", ""]
    for key, run in data["runs"].items():
        lines += [f"### {key}", "", run["table"], ""]
    return "\n".join(lines) + "\n"
