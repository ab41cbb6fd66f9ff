"""The latency audit: what each block costs in parameters, FLOPs and latency, side by side.

For each architecture the audit prepares the plain backbone and the backbone with each block
through the one preparation step (:mod:`recalib.export.prepare`: random weights from seed 0, batch-norm
statistics from random inputs, eval mode), counts parameters and FLOPs once per model (fvcore
at batch 1, :mod:`recalib.profiling.counting.counts`), exports each model (verified against its float64
PyTorch model; plain and, where asked, optimised), and times every model on every runtime and
batch with :func:`recalib.deploy.bench.compare`: the models alternate in one worker process per
runtime and batch, every export variant of a runtime in the same rounds (plain and optimised
exports of one model see the same machine: two identical graphs timed in different runs once
read 189 ms and 122 ms), and each latency overhead is a ratio of medians against the plain
backbone timed in the same rounds and exported the same way, with a paired-bootstrap 95%
interval. Only such paired series are compared. Optimised
exports are made per runtime: each ONNX runtime times the export optimised for it
(:func:`recalib.export.optimize.export_target`; OpenVINO's form differs from onnxruntime's for MS-SAR
and CC blocks). :meth:`ArchAudit.least` names, per block and batch, the runtime where it
costs least when its interval separates from every other's, and the tie otherwise. A user's own model (``--arch FILE.py:FACTORY``, or a ``.pt2`` program) is measured as it
is (its parameters, FLOPs and latency per runtime): blocks go into recalib's architectures only.

A caller that needs more than the records (a benchmark's executed-graph evidence, each run's
own table) passes :class:`AuditHooks`: the audit calls them with every export while its files
exist and with every comparison it ran.

A failure is a result, not a crash: a block that cannot be built on an architecture, an
export that fails verification, a timing job that fails are recorded with their error and
the audit goes on (the command line exits non-zero afterwards).
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from recalib.deploy.availability import check_precision, require
from recalib.deploy.machine_info import MachineInfo
from recalib.deploy.results import BenchResult, Measurement
from recalib.deploy.settings import BenchSettings
from recalib.deploy.stability import intervals_overlap
from recalib.deploy.runner_options import RunnerOptions
from recalib.deploy.target import Target, onnx_runtimes
from recalib.export.parity import ParityCheck
from recalib.export.prepared import Prepared
from recalib.export.report import ExportReport
from recalib.profiling.latency.plan import BASELINE, NATIVE, LatencyPlan
from recalib.spec import Spec
from recalib.errors import BackendUnavailable, ConfigError, RecalibError
from recalib.infra.workspace import temporary_folder

__all__ = ["ModelCost", "ExportSummary", "LatencyRecord", "Failure", "ArchAudit", "LatencyAudit", "AuditHooks",
           "audit_latency", "resolve_targets", "export_variants", "overhead_pct", "run_label", "BASELINE", "NATIVE",
           "PLAIN_EXPORT"]

PLAIN_EXPORT = " [plain export]"
"""What a plain export's label ends with in its target's run, where it alternates with the optimised one."""


def overhead_pct(value: float, base: float) -> float | None:
    """``value`` over ``base`` in percent (None when the base is zero)."""
    return 100.0 * (value - base) / base if base else None


@dataclass(frozen=True)
class ModelCost:
    """Parameters and multiply-adds of one model as built (before folding), at batch 1."""

    label: str
    params: int
    macs: float
    macs_all: float


@dataclass(frozen=True)
class ExportSummary:
    """What one export of one model produced: its size in nodes, its ops, parity and time."""

    nodes: int
    ops: dict[str, int]
    max_rel_error: float
    seconds: float


@dataclass(frozen=True)
class LatencyRecord:
    """One model timed on one target, export variant (``plain``, ``optimized``, ``module``) and batch;
    ``form`` is the export it ran (``plain``, the target(s) it was optimised for, None for a module)."""

    arch: str
    target: Target
    export: str
    measurement: Measurement
    parity: ParityCheck | None
    threads: int | None
    form: str | None = None

    @property
    def model(self) -> str:
        return self.measurement.label

    @property
    def batch(self) -> int:
        return self.measurement.batch

    @property
    def series(self) -> str:
        """The column the record belongs to: its target, plus ``optimized`` for optimised exports."""
        return f"{self.target.name} optimized" if self.export == "optimized" else self.target.name

    def row(self) -> dict[str, Any]:
        """A flat row for ``latency.csv``."""
        return {"arch": self.arch, "target": self.target.name, "runtime": self.target.runtime,
                "device": self.target.device, "export": self.export, "export_form": self.form,
                **self.measurement.row(),
                "threads": self.threads, "parity_error": None if self.parity is None else self.parity.error,
                "parity_bound": None if self.parity is None else self.parity.bound}
@dataclass(frozen=True)
class Failure:
    """Something the audit could not measure, and why; ``exit_code`` is the error's."""

    arch: str
    stage: str
    what: str
    error: str
    exit_code: int

    @classmethod
    def of(cls, arch: str, stage: str, what: str, exc: RecalibError) -> Failure:
        """The failure ``exc`` makes of one step (the error's class and message, and its exit code)."""
        return cls(arch, stage, what, f"{type(exc).__name__}: {exc}", exc.exit_code)


@dataclass
class ArchAudit:
    """Costs, exports and latency records of one architecture; ``exports`` by form (``plain``,
    then each target's name), then model label."""

    arch: str
    input_chw: tuple[int, ...]
    costs: list[ModelCost] = field(default_factory=list)
    exports: dict[str, dict[str, ExportSummary]] = field(default_factory=dict)
    records: list[LatencyRecord] = field(default_factory=list)

    def least(self, batch: int, label: str, device: str = "cpu") -> list[LatencyRecord]:
        """Where ``label`` costs least at ``batch`` on ``device``: the record with the least median
        overhead, then every record whose 95% interval overlaps its interval. One record: the
        block costs least there, told apart from every other; several: a tie the measurement cannot
        break (none when nothing was measured)."""
        found = [r for r in self.records if r.batch == batch and r.model == label and r.target.device == device
                 and r.measurement.interval_pct() is not None]
        if not found:
            return []
        best = min(found, key=lambda r: r.measurement.overhead_pct or 0.0)
        interval = best.measurement.interval_pct()
        assert interval is not None
        return [best] + [r for r in found if r is not best
                         and intervals_overlap(interval, r.measurement.interval_pct() or interval)]


@dataclass
class LatencyAudit:
    """Everything the latency audit measured, and what it skipped or failed to measure."""

    plan: LatencyPlan
    targets: list[Target]
    skipped: dict[str, str]
    variants: list[str]
    variant_notes: dict[str, str]
    archs: list[ArchAudit]
    failures: list[Failure]
    machine: MachineInfo
    load_end: tuple[float, float, float] | None
    seconds: float


@dataclass(frozen=True)
class AuditHooks:
    """What the audit tells a caller as it goes, beyond the result it returns.

    ``exported(arch, variant, models)``: every model of ``arch`` exported the ``variant`` way
    (label -> model, each runtime's file in :meth:`~recalib.export.prepared.Prepared.file_for`),
    called while the files exist (they are temporary). ``timed(arch, result)``: each comparison
    as run (one target, one batch, every export variant in the same rounds, labelled by
    :func:`run_label`), with every round's time and its own machine load.
    """

    exported: Callable[[str, str, Mapping[str, Prepared]], None] | None = None
    timed: Callable[[str, BenchResult], None] | None = None


def export_variants(targets: Sequence[Target], optimize: bool | str) -> tuple[list[str], dict[str, str]]:
    """The ONNX exports to time (``plain``, and ``optimized`` when asked for and offered), with notes
    saying which target's export each runtime times as ``optimized``."""
    from recalib.export.optimize import export_target

    runtimes = onnx_runtimes(targets)
    if not runtimes:
        return [], {}
    if not optimize:
        return ["plain"], {"optimized": "not asked for (--no-optimize)"}
    forms = ", ".join(f"`{r}` {export_target(optimize, r)}'s" for r in runtimes)
    how = "each runtime its own target's form" if optimize is True else f"every runtime {optimize}'s form (--target)"
    return ["plain", "optimized"], {"optimized": f"{how}: {forms}"}


def resolve_targets(plan: LatencyPlan) -> tuple[list[Target], dict[str, str]]:
    """The targets that can run here in the plan's precision, and why each other one is skipped.

    When the user named the runtimes (``plan.strict``), an unavailable one is an error
    (:class:`BackendUnavailable` with its install hint) rather than a skip, and so is one that does not
    compute in ``plan.precision`` (:class:`ConfigError`: torch runtimes cannot run an int8 QDQ graph).
    """
    usable: list[Target] = []
    skipped: dict[str, str] = {}
    for target in plan.targets:
        try:
            require(target.runtime, target.device)
        except BackendUnavailable as exc:
            if plan.strict:
                raise
            skipped[target.name] = f"{exc.reason}; to enable it: {exc.hint}"
            continue
        try:
            check_precision(target.runtime, plan.precision)
        except ConfigError as exc:
            if plan.strict:
                raise ConfigError(f"--runtime {target.name}: {exc}; leave {target.name} out of --runtime, or "
                                  f"audit at another --precision") from None
            skipped[target.name] = str(exc)
            continue
        usable.append(target)
    return usable, skipped


def _cost(label: str, model: Any, chw: tuple[int, ...]) -> ModelCost:
    from recalib.profiling.counting.counts import count_module

    counts = count_module(model, (1, *chw))
    return ModelCost(label, int(counts.total("params")), counts.total("mac"), counts.total("mac-all"))


def _summary(report: ExportReport) -> ExportSummary:
    return ExportSummary(sum(report.op_histogram.values()), dict(report.op_histogram), report.max_rel_error,
                         report.export_seconds)


def _form(model: Prepared, runtime: str) -> str | None:
    """The export ``runtime`` times of ``model``: ``plain``, or the targets it is optimised for."""
    export = model.exports.get(runtime)
    return None if export is None else "+".join(export.targets) or "plain"


class _Run:
    """One audit in progress: the plan, where exports go, the progress bar and the failures."""

    def __init__(self, plan: LatencyPlan, targets: list[Target], variants: list[str], workdir: Path,
                 bar: Any, hooks: AuditHooks) -> None:
        self.plan, self.targets, self.variants = plan, targets, variants
        self.workdir, self.bar, self.hooks = workdir, bar, hooks
        self.failures: list[Failure] = []

    def fail(self, arch: str, stage: str, what: str, exc: RecalibError) -> None:
        self.failures.append(Failure.of(arch, stage, what, exc))

    def step(self, text: str) -> None:
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.update(1)

    def arch(self, arch: str, spec: Spec) -> ArchAudit:
        """Build, count, export and time every model of ``arch`` (parsed as ``spec``)."""
        result = ArchAudit(arch, spec.input_chw())
        done = self.bar.n
        models = self._models(result, spec)
        if BASELINE in models:
            exported = {v: self._exports(result, models, v) for v in self.variants}
            for target in self.targets:
                self._time(result, target, exported if target.runs_onnx else {"module": models})
        # Models that failed to build leave their export steps undone: keep the bar honest.
        self.bar.update(_arch_steps(self.plan, spec, self.targets, self.variants) - (self.bar.n - done))
        return result

    def _models(self, result: ArchAudit, base: Spec) -> dict[str, Prepared]:
        """Label → the prepared model (seed 0, calibrated); costs recorded as a side effect."""
        from recalib.export.prepare import build

        models = {}
        for label in self.plan.labels(base):
            try:
                model = build(base if label == NATIVE else base.with_block(label), label=label)
                assert model.module is not None
                result.costs.append(_cost(label, model.module, result.input_chw))
                models[label] = model
            except RecalibError as exc:
                self.fail(result.arch, "build", label, exc)
            self.step(f"{result.arch}: built {label}")
        return models

    def _exports(self, result: ArchAudit, models: dict[str, Prepared], variant: str) -> dict[str, Prepared]:
        """Every model of ``result.arch`` exported the ``variant`` way; label → exported model."""
        from recalib.export.export_all import export_all
        from recalib.export.options import ExportOptions, PrepareOptions

        folder = self.workdir / re.sub(r"[^\w.=-]+", "_", result.arch) / variant  # a spec may hold a path
        folder.mkdir(parents=True, exist_ok=True)
        options = PrepareOptions(export=ExportOptions(optimize=self.plan.optimize if variant == "optimized" else False,
                                                      tolerance=self.plan.tolerance, **self._int8(result)))
        exported = export_all(list(models.values()), folder, options, runtimes=onnx_runtimes(self.targets),
                              on_error=lambda m, exc: self.fail(result.arch, f"export ({variant})", m.label, exc),
                              progress=lambda msg: self.step(f"{result.arch}: {msg} ({variant})"))
        for model in exported:
            for export in model.exports.values():
                for form in export.targets or ("plain",):
                    result.exports.setdefault(form, {})[model.label] = _summary(export.report)
        by_label = {m.label: m for m in exported}
        if self.hooks.exported is not None:
            self.hooks.exported(result.arch, variant, by_label)
        return by_label

    def _int8(self, result: ArchAudit) -> dict[str, Any]:
        """The export settings of an int8 plan: QDQ graphs calibrated at the architecture's input size."""
        from recalib.export.options import Quantization
        from recalib.export.quantize.calibration import load_calibration

        if self.plan.calibration is None:
            return {}
        calibration = load_calibration(self.plan.calibration, result.input_chw)
        return {"precision": "int8", "quantization": Quantization(calibration, self.plan.gates_in_float,
                                                                  self.plan.calibration_method)}

    def _time(self, result: ArchAudit, target: Target, variants: Mapping[str, dict[str, Prepared]]) -> None:
        """Time every export variant of the models on one target in one alternated run per batch, each
        model against the plain backbone of its own variant (a variant whose baseline failed to
        export has nothing to compare with: already recorded, left out)."""
        from recalib.deploy.bench import compare

        timed = {v: models for v, models in variants.items() if BASELINE in models}
        run, baselines, origin = _paired_run(timed)
        for batch in self.plan.batches:
            self.step(f"{result.arch}: {target.name} batch {batch}")
            if not run:
                continue
            try:
                bench = compare(run, self._settings(target, batch), baselines=baselines)
            except RecalibError as exc:
                self.fail(result.arch, "timing", f"{target.name} batch {batch}", exc)
                continue
            if self.hooks.timed is not None:
                self.hooks.timed(result.arch, bench)
            for m in bench.measurements:
                variant, model = origin[m.label]
                record = replace(m, label=model.label, baseline=None if m.baseline is None else BASELINE)
                result.records.append(LatencyRecord(result.arch, target, variant, record,
                                                    bench.parity_of(target.name, m.label), bench.settings.threads,
                                                    _form(model, target.runtime)))

    def _settings(self, target: Target, batch: int) -> BenchSettings:
        """The comparison of ``target`` at ``batch``, as the plan asks for it."""
        own = self.plan.runtime_options.get(target.runtime)
        if self.plan.precision != "fp32":
            own = replace(own or RunnerOptions(), precision=self.plan.precision)
        return self.plan.settings(target, batch, None if own is None else {target.runtime: own})


def run_label(label: str, variant: str) -> str:
    """A model's label in the one run of its target: the plain export's with :data:`PLAIN_EXPORT`, so
    both exports of a model can alternate in the same rounds."""
    return label + PLAIN_EXPORT if variant == "plain" else label


def _paired_run(variants: Mapping[str, dict[str, Prepared]]) -> tuple[list[Prepared], list[int], dict[str, tuple[str, Prepared]]]:
    """The models of every variant in one run (relabelled by :func:`run_label`), each one's baseline
    index (its variant's plain backbone), and run label -> (variant, model)."""
    run: list[Prepared] = []
    baselines: list[int] = []
    origin: dict[str, tuple[str, Prepared]] = {}
    for variant, models in variants.items():
        base = len(run) + list(models).index(BASELINE)
        for label, model in models.items():
            origin[run_label(label, variant)] = (variant, model)
            run.append(replace(model, label=run_label(label, variant)))
            baselines.append(base)
    return run, baselines, origin


def _arch_steps(plan: LatencyPlan, spec: Spec, targets: Sequence[Target], variants: Sequence[str]) -> int:
    """Progress-bar steps of one architecture: builds, exports and timing jobs."""
    jobs = len(targets) * len(plan.batches)
    return len(plan.labels(spec)) * (1 + len(variants)) + jobs


def audit_latency(plan: LatencyPlan, progress: bool = False, hooks: AuditHooks = AuditHooks()) -> LatencyAudit:
    """Run the latency audit of ``plan``; ``progress`` shows a bar on a terminal; ``hooks`` are told of every
    export and comparison as they are made.

    Raises :class:`BackendUnavailable` for a runtime the user named that cannot run here;
    everything else that goes wrong is recorded in the result's ``failures``.
    """
    import torch

    from recalib.deploy import machine_info
    from recalib.infra.progress import progress_bar

    targets, skipped = resolve_targets(plan)
    variants, notes = export_variants(targets, plan.optimize)
    machine, start, threads = machine_info.collect(), time.perf_counter(), torch.get_num_threads()
    steps = sum(_arch_steps(plan, spec, targets, variants) for spec in plan.arch_specs)
    bar = progress_bar(total=steps, show=progress, desc="latency audit", unit="step")
    try:
        # Building, exporting and reference outputs run on one thread: with more, torch waits at
        # every op for a thread that another process holds (27x slower on a busy 2-core machine).
        torch.set_num_threads(1)
        with temporary_folder("audit-") as tmp, bar:
            run = _Run(plan, targets, variants, tmp, bar, hooks)
            archs = [run.arch(arch, spec) for arch, spec in zip(plan.archs, plan.arch_specs)]
    finally:
        torch.set_num_threads(threads)
    return LatencyAudit(plan, targets, skipped, variants, notes, archs, run.failures, machine,
                        machine_info.load_average(), time.perf_counter() - start)
