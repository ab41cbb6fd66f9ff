"""Where the time of ``recalib export`` goes: torch's import and exporter, and recalib's own (issue 24, item 8).

    python benchmarks/export_time.py                # cifar_resnet20 and resnet50, 3 fresh processes each
    python benchmarks/export_time.py --quick        # a smoke run: cifar_resnet20 and the listing, once each

Every measurement runs in a fresh process of this interpreter, so it measures the recalib installed
there: run the same script in main's environment and in a branch's to compare them. Measured:

* ``import torch`` alone, and ``recalib --help`` (Python, and recalib's command line without torch);
* ``recalib export MODEL``, run twice in one process: the first run is what a user waits for, the
  second shows what of it is one-time start-up. Each run's wall and CPU time is split into phases
  by timers put around the functions that do the work (:data:`PHASES`; the time inside a phase's
  function that another phase's function takes is that other phase's, and nothing inside torch's
  exporter is split out of it); what no phase claims is the rest. recalib's own time is its
  imports and its first export less torch's exporter (``import torch`` and the exporter's own
  imports are torch's; so are starting and exiting the process, given on a row of their own);
* ``recalib models --paper all``.

CPU time (user + sys, every thread) is given beside wall time: on a shared machine load stretches
the wall time of a run far more than its CPU time. The page and the JSON record the machine and the
load average before and after each process; ``<out>/export-time-<machine>-<date>[-tag].json`` and ``.md``.
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MODELS = ("cifar_resnet20", "resnet50")
QUICK_MODELS = ("cifar_resnet20",)
TORCH_EXPORTER = "torch exporter"
# (phase, its group on the page, the functions whose time is the phase's as "module:qualified.name").
PHASES = (
    (TORCH_EXPORTER, "torch exporter", ("torch.onnx:export",)),
    ("model build", "build", ("recalib.spec:Spec.create",)),
    ("weight draws and checks", "build", ("recalib.export.prepare:draw_degenerate_weights",
                                          "recalib.export.onnx_export:check_weights")),
    ("calibration", "build", ("recalib.export.prepare:calibrate_batchnorm",)),
    ("fold", "folding", ("recalib.folding:fold_model",)),
    ("model copies and casts", "float64 copies", ("copy:deepcopy", "torch.nn:Module.double", "torch.nn:Module.to",
                                                  "torch.nn:Module.float")),
    ("exact rewrites", "rest", ("recalib.export.optimize:optimize_model", "recalib.export.optimize:optimize_graph")),
    ("graph write", "rest", ("recalib.export.onnx_file:write_graph",)),
    ("structure check", "verification", ("recalib.export.verify:check_structure",)),
    ("onnxruntime sessions", "verification", ("recalib.export.verify:ort_session",)),
    ("onnxruntime runs", "verification", ("recalib.export.verify:run_onnx",)),
    ("PyTorch float32 and float64 runs", "verification", ("recalib.export.parity:Truth.reference",)),
    ("TensorRT lint", "verification", ("recalib.export.trt_lint:lint",)),
)
UNCLAIMED = "what no phase claims"
GROUPS = ("torch exporter", "verification", "folding", "float64 copies", "build", "rest")
# What torch's exporter imports on its first call: its start-up, whoever imports it first (the first
# operation on meta tensors, such as recalib's memory check, imports torch._dynamo too).
TORCH_EXPORTER_IMPORTS = ("torch.onnx._internal.exporter._core", "onnxscript", "torch.export._trace", "torch._dynamo")
RECALIB_IMPORTS = "import recalib, onnx, onnxruntime"
# What ``recalib export`` imports, imported before the timers go on (their functions must exist to be timed).
EXPORT_IMPORTS = ("recalib.cli.main", "recalib.cli.export", "recalib.export.prepare", "onnxruntime")


def _clock() -> tuple[float, float]:
    """(wall, CPU of every thread of this process) in seconds."""
    return time.perf_counter(), time.process_time()


class PhaseTimer:
    """Wall and CPU seconds per phase, each phase's own: a phase entered inside another is taken out of
    the outer one's time. Inside torch's exporter no phase is entered (its copies are its own)."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}
        self._stack: list[tuple[str, tuple[float, float], list[float]]] = []

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        if any(entered == TORCH_EXPORTER for entered, _, _ in self._stack) or (
                self._stack and self._stack[-1][0] == name):
            yield  # the exporter's own work, or a phase's function calling itself (a deep copy's recursion)
            return
        inner = [0.0, 0.0]
        self._stack.append((name, _clock(), inner))
        try:
            yield
        finally:
            _, start, inner = self._stack.pop()
            spent = [end - begin for end, begin in zip(_clock(), start)]
            own = self.seconds.setdefault(name, [0.0, 0.0])
            own[0], own[1] = own[0] + spent[0] - inner[0], own[1] + spent[1] - inner[1]
            if self._stack:
                outer = self._stack[-1][2]
                outer[0], outer[1] = outer[0] + spent[0], outer[1] + spent[1]

    def timed(self, name: str, function: Callable[..., Any],
              when: Callable[..., bool] | None = None) -> Callable[..., Any]:
        """``function`` whose calls (those ``when`` accepts, if given) count as ``name``'s time."""
        def call(*args: Any, **kwargs: Any) -> Any:
            if when is not None and not when(*args):
                return function(*args, **kwargs)
            with self.phase(name):
                return function(*args, **kwargs)

        call.__wrapped__ = function  # type: ignore[attr-defined]
        return call

    def take(self) -> dict[str, dict[str, float]]:
        """The seconds so far, by phase, and start again."""
        taken = {name: {"wall": wall, "cpu": cpu} for name, (wall, cpu) in self.seconds.items()}
        self.seconds = {}
        return taken


def _resolve(target: str) -> tuple[Any, str, Any] | None:
    """(owner, attribute, function) of ``"module:Class.name"``; None where this recalib has no such function."""
    module_name, _, path = target.partition(":")
    try:
        owner: Any = importlib.import_module(module_name)
        *outer, attribute = path.split(".")
        for name in outer:
            owner = getattr(owner, name)
        return owner, attribute, getattr(owner, attribute)
    except (ImportError, AttributeError):
        return None


def _copies_a_module(value: Any = None, *_: Any) -> bool:
    """Whether a deep copy copies a model (or a layer), the copies a phase is about."""
    import torch

    return isinstance(value, torch.nn.Module)


def install_timers(timer: PhaseTimer, phases: Sequence[tuple[str, str, Sequence[str]]] = PHASES) -> list[str]:
    """Put ``timer`` around every phase's functions, wherever a loaded module holds them (``from x import f``
    binds its own name); the targets this recalib lacks."""
    missing = []
    for name, _, targets in phases:
        for target in targets:
            found = _resolve(target)
            if found is None:
                missing.append(target)
                continue
            owner, attribute, function = found
            wrapper = timer.timed(name, function, _copies_a_module if target == "copy:deepcopy" else None)
            setattr(owner, attribute, wrapper)
            for module in list(sys.modules.values()):
                for key, value in list(getattr(module, "__dict__", {}).items()):
                    if value is function:
                        setattr(module, key, wrapper)
    return missing


def _export_run(main: Callable[[list[str]], int], model: str, output: Path, timer: PhaseTimer) -> dict[str, Any]:
    """One ``recalib export`` in this process: its wall and CPU seconds, and each phase's."""
    start = _clock()
    code = main(["export", model, "-o", str(output), "--force"])
    wall, cpu = (end - begin for end, begin in zip(_clock(), start))
    if code != 0:
        raise SystemExit(f"recalib export {model} failed with exit status {code}")
    phases = timer.take()
    phases[UNCLAIMED] = {"wall": wall - sum(p["wall"] for p in phases.values()),
                      "cpu": cpu - sum(p["cpu"] for p in phases.values())}
    return {"wall": wall, "cpu": cpu, "phases": phases}


def _timed_import(names: Sequence[str]) -> dict[str, float]:
    """Import ``names``: the wall and CPU seconds it took."""
    start = _clock()
    for name in names:
        importlib.import_module(name)
    return dict(zip(("wall", "cpu"), (end - begin for end, begin in zip(_clock(), start))))


def child_export(model: str, result: Path) -> int:
    """The measuring process of one model: imports, then two exports, timed; the JSON to ``result``."""
    imports = {"import torch": _timed_import(["torch"]),
               "import torch's exporter (dynamo, onnxscript)": _timed_import(TORCH_EXPORTER_IMPORTS),
               RECALIB_IMPORTS: _timed_import(EXPORT_IMPORTS)}
    from recalib.cli.main import main

    timer, start = PhaseTimer(), _clock()
    missing = install_timers(timer)
    installing = dict(zip(("wall", "cpu"), (end - begin for end, begin in zip(_clock(), start))))
    with tempfile.TemporaryDirectory(prefix="export-time-") as folder:
        runs = [_export_run(main, model, Path(folder) / f"run{n}.onnx", timer) for n in (1, 2)]
    result.write_text(json.dumps({"imports": imports, "first": runs[0], "second": runs[1], "not_timed": missing,
                                  "installing_timers": installing}))
    return 0


def _load() -> float | None:
    from recalib.deploy.machine_info import load_average

    load = load_average()
    return None if load is None else load[0]


def in_fresh_process(arguments: Sequence[str]) -> dict[str, Any]:
    """``python ARGUMENTS`` in a fresh process started in an empty folder (so it imports the installed
    recalib, not a checkout it was started from), its output discarded: wall and CPU seconds (its own and
    its children's) and the load average before and after; a failure stops the benchmark."""
    before, load = resource.getrusage(resource.RUSAGE_CHILDREN), _load()
    start = time.perf_counter()
    # Not in the checkout: ``python -c`` puts its folder first on sys.path, and would import recalib from it.
    with tempfile.TemporaryDirectory(prefix="export-time-") as elsewhere:
        done = subprocess.run([sys.executable, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, check=False, cwd=elsewhere)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"python {' '.join(arguments)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return {"wall": wall, "cpu": cpu, "load_before": load, "load_after": _load()}


def _cli(*arguments: str) -> list[str]:
    return ["-c", "import sys; from recalib.cli.main import main; sys.exit(main(sys.argv[1:]))", *arguments]


def measure_export(model: str) -> dict[str, Any]:
    """One fresh process exporting ``model`` twice; what it measured inside, what its parent saw, recalib's
    own share (:func:`recalib_own`) and the rest of the process (:func:`process_overhead`)."""
    with tempfile.TemporaryDirectory(prefix="export-time-") as folder:
        result = Path(folder) / "result.json"
        process = in_fresh_process([str(Path(__file__).resolve()), "_child", model, str(result)])
        inside = json.loads(result.read_text())
    return {**inside, "process": process, "recalib_own": recalib_own(inside),
            "process_overhead": process_overhead(process, inside)}


def recalib_own(inside: dict[str, Any]) -> dict[str, float]:
    """What a user waits for beyond torch: recalib's imports and its first export, less torch's exporter."""
    exporter = inside["first"]["phases"].get(TORCH_EXPORTER, {"wall": 0.0, "cpu": 0.0})
    return {clock: inside["imports"][RECALIB_IMPORTS][clock] + inside["first"][clock] - exporter[clock]
            for clock in ("wall", "cpu")}


def process_overhead(process: dict[str, Any], inside: dict[str, Any]) -> dict[str, float]:
    """The process's time outside what it measured: starting Python, exiting (torch's teardown), the
    benchmark's own timers and files."""
    parts = [*inside["imports"].values(), inside["first"], inside["second"]]
    return {clock: process[clock] - sum(part[clock] for part in parts) for clock in ("wall", "cpu")}


def measure(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    """Every measurement, ``args.repeat`` fresh processes each, in turns (so load drifts through them all)."""
    runs: dict[str, list[dict[str, Any]]] = {}
    jobs: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("import torch", lambda: in_fresh_process(["-c", "import torch"])),
        ("recalib --help", lambda: in_fresh_process(_cli("--help"))),
        *((f"recalib export {m}", lambda m=m: measure_export(m)) for m in args.model),
        ("recalib models --paper all", lambda: in_fresh_process(_cli("models", "--paper", "all")))]
    for turn in range(args.repeat):
        for name, job in jobs:
            runs.setdefault(name, []).append(job())
            log(f"{name} ({turn + 1}/{args.repeat}): {summary_line(runs[name][-1])}")
    return runs


def summary_line(run: dict[str, Any]) -> str:
    process = run.get("process", run)
    line = f"{process['wall']:.2f} s wall, {process['cpu']:.2f} s CPU, load {process['load_before']}"
    if "recalib_own" in run:
        exporter = run["first"]["phases"].get(TORCH_EXPORTER, {"wall": 0.0})["wall"]
        own = run["recalib_own"]
        line += f"; torch exporter {exporter:.2f} s, recalib's own {own['wall']:.2f} s wall, {own['cpu']:.2f} s CPU"
    return line


def _spread(values: Sequence[float]) -> str:
    """``median [min–max]`` seconds (the median alone for one value)."""
    text = f"{statistics.median(values):.2f}"
    return text if len(values) == 1 else f"{text} [{min(values):.2f}–{max(values):.2f}]"


def _range(loads: Sequence[float]) -> str:
    return f"{min(loads):.2f}–{max(loads):.2f}" if loads else "not known here"


def _row(label: str, cells: Sequence[str]) -> str:
    return f"| {label} | " + " | ".join(cells) + " |" + " |" * (4 - len(cells))


def _once(runs: list[dict[str, Any]], pick: Callable[[dict[str, Any]], dict[str, float]]) -> list[str]:
    """Wall and CPU cells of a quantity measured once per process."""
    return [_spread([pick(r)[clock] for r in runs]) for clock in ("wall", "cpu")]


def _phases(runs: list[dict[str, Any]], names: set[str]) -> list[str]:
    """Wall and CPU cells of the first and the second export's time in the phases ``names``."""
    return [_spread([sum(v[clock] for p, v in r[which]["phases"].items() if p in names) for r in runs])
            for which in ("first", "second") for clock in ("wall", "cpu")]


def _export_rows(name: str, runs: list[dict[str, Any]]) -> list[str]:
    """The page's table of one model: the process, its imports, each phase group and phase, both runs."""
    group = {phase: g for phase, g, _ in PHASES} | {UNCLAIMED: "rest"}
    lines = [f"### {name}", "", "| | first export: wall s | CPU s | second export: wall s | CPU s |",
             "| --- | --- | --- | --- | --- |",
             _row("whole process (both exports)", _once(runs, lambda r: r["process"])),
             _row("**recalib's own** (its imports and the first export, less torch's exporter)",
                  _once(runs, lambda r: r["recalib_own"])),
             _row("starting and exiting Python, the benchmark's timers", _once(runs, lambda r: r["process_overhead"]))]
    lines += [_row(what, [_spread([r["imports"][what][clock] for r in runs]) for clock in ("wall", "cpu")])
              for what in runs[0]["imports"]]
    lines.append(_row("the export (the CLI call)", [_spread([r[which][clock] for r in runs])
                                                     for which in ("first", "second") for clock in ("wall", "cpu")]))
    for g in GROUPS:
        members = {p for p, pg in group.items() if pg == g}
        lines.append(_row(f"**{g}**", _phases(runs, members)))
        lines += [_row(f"&nbsp;&nbsp;{p}", _phases(runs, {p})) for p in sorted(members - {g})]
    missing = sorted({t for r in runs for t in r["not_timed"]})
    if missing:
        lines += ["", f"Not in this recalib, so not timed (their time is in the rest): {', '.join(missing)}."]
    return lines + [""]


def markdown(data: dict[str, Any]) -> str:
    """The page: each measurement's wall and CPU seconds (median [min–max] over the fresh processes), and
    each export's split."""
    machine = data["machine"]
    lines = [f"# Where recalib export's time goes ({data['recorded']})", "",
             f"Machine: {machine['cpu']}, {machine['cores_available']} cores; recalib {machine['packages'].get('recalib')}, "
             f"torch {machine['packages'].get('torch')}; {data['repeat']} fresh process(es) per row, "
             f"median [min–max]. Load average (1 min) before the processes: {_range(data['loads'])}.", "",
             "| measurement | wall s | CPU s (user+sys) |", "| --- | --- | --- |"]
    for name, runs in data["runs"].items():
        processes = [r.get("process", r) for r in runs]
        lines.append(f"| {name} | {_spread([p['wall'] for p in processes])} | {_spread([p['cpu'] for p in processes])} |")
    lines += ["", "## The exports, split", "",
              "Phases are timed around the functions that do them (benchmarks/export_time.py's PHASES), each its "
              "own time (what a phase inside it took is that phase's); the rest is what no phase claims.", ""]
    for name, runs in data["runs"].items():
        if name.startswith("recalib export"):
            lines += _export_rows(name, runs)
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", default=None,
                   help=f"an architecture to export, repeatable (default: {', '.join(MODELS)})")
    p.add_argument("--repeat", type=int, default=3, help="fresh processes per measurement (default: 3)")
    p.add_argument("--quick", action="store_true", help="one process each, cifar_resnet20 unless --model: a smoke run")
    from record import add_record_options

    add_record_options(p)
    args = p.parse_args(argv)
    if args.quick:
        args.model, args.repeat, args.tag = args.model or list(QUICK_MODELS), 1, args.tag or "quick"
    args.model = args.model or list(MODELS)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_child"]:
        return child_export(argv[1], Path(argv[2]))
    from record import now, record

    from recalib.deploy import machine_info

    args = parse_args(argv)
    runs = measure(args, lambda message: print(f"[export-time] {message}", flush=True))
    machine = machine_info.collect()
    loads = [r.get("process", r)["load_before"] for rs in runs.values() for r in rs]
    data = {"recorded": now(), "machine": machine.to_dict(), "repeat": args.repeat,
            "loads": [x for x in loads if x is not None], "runs": runs}
    page = markdown(data)
    stem = record(args.out, "export-time", machine, data["recorded"], args.tag, data, page)
    print(page + f"wrote {stem}.md and {stem.name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
