"""The latency audit: what each block costs in parameters, FLOPs and latency, side by side.

For each architecture the audit builds the plain backbone and the backbone with each block
(random weights, seed 0, batch-norm statistics set from random inputs, eval mode), counts parameters and FLOPs once per model (fvcore at
batch 1, :mod:`profiling.counting`), exports each model to ONNX (verified against PyTorch;
plain and, where the exporter offers it, optimised), and times every model on every runtime
and batch with :func:`deploy.bench.compare`: the models alternate in one worker process per
runtime, and each latency overhead is a ratio of medians against the plain backbone timed
in the same run (and exported the same way), with a paired-bootstrap 95% interval.

A failure is a result, not a crash: a block that cannot be built on an architecture, an
export that fails verification, a timing job that fails are recorded with their error and
the audit goes on (the command line exits non-zero afterwards).
"""
from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from deploy.availability import require
from profiling.latency_plan import LatencyPlan, Target
from profiling.measure import load_library
from recalib.errors import BackendUnavailable, RecalibError

__all__ = ["ModelCost", "Failure", "ArchAudit", "LatencyAudit", "audit_latency", "resolve_targets",
           "export_variants"]

BASELINE = "none"


@dataclass(frozen=True)
class ModelCost:
    """Parameters and multiply-adds of one model as built (before folding), at batch 1."""

    label: str
    params: int
    macs: float
    macs_all: float


@dataclass(frozen=True)
class Failure:
    """Something the audit could not measure, and why; ``exit_code`` is the error's."""

    arch: str
    stage: str
    what: str
    error: str
    exit_code: int


@dataclass
class ArchAudit:
    """Costs, exports and latency records of one architecture."""

    arch: str
    input_chw: tuple[int, ...]
    costs: list[ModelCost] = field(default_factory=list)
    exports: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    records: list[dict[str, Any]] = field(default_factory=list)


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
    machine: dict[str, Any]
    load_end: list[float] | None
    seconds: float


def export_variants(targets: Sequence[Target], optimize: bool) -> tuple[list[str], dict[str, str]]:
    """The ONNX exports to time (``plain``, and ``optimized`` when asked for and offered), with notes."""
    if not any(t.runs_onnx for t in targets):
        return [], {}
    if not optimize:
        return ["plain"], {"optimized": "not asked for (--no-optimize)"}
    return ["plain", "optimized"], {}


def resolve_targets(plan: LatencyPlan) -> tuple[list[Target], dict[str, str]]:
    """The targets that can run here, and why each other one is skipped.

    When the user named the runtimes (``plan.strict``), an unavailable one is an error
    (:class:`BackendUnavailable` with its install hint) rather than a skip.
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
        else:
            usable.append(target)
    return usable, skipped


def _build(arch: str, spec: str, chw: tuple[int, ...]) -> nn.Module:
    """``arch`` plain (``spec`` ``none``) or with the block ``spec``, calibrated, in eval mode."""
    from deploy.candidates import parse_block
    from recalib.models import create_model

    size = tuple(chw[1:])
    if spec == BASELINE:
        model = create_model(arch, input_size=size)
    else:
        name, options = parse_block(spec)
        model = create_model(arch, block=name, input_size=size, **options)
    return _calibrate(model, chw)


def _calibrate(model: nn.Module, chw: tuple[int, ...]) -> nn.Module:
    """Set every batch norm's statistics from one batch of random inputs; return the model in eval mode.

    With fresh statistics (mean 0, variance 1) a random deep net's activations grow stage by
    stage (CIFAR ResNet-56 + CC-Reduced reached outputs of 7e4, where float32 rounding alone
    moved them by 10% between batch sizes), so parity checks would test the random model's
    conditioning instead of the export. Normalised like a trained net's, outputs stay near 1
    and the exports verify to 1e-5. Latency and counts do not depend on these values.
    """
    import torch

    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [bn.momentum for bn in norms]
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative average: after one batch, exactly that batch's statistics
    model.train()
    with torch.no_grad():
        model(torch.randn(4, *chw))
    for bn, momentum in zip(norms, momenta):
        bn.momentum = momentum
    return model.eval()


def _cost(label: str, model: nn.Module, chw: tuple[int, ...]) -> ModelCost:
    from profiling.counting import count_module

    counts = count_module(model, (1, *chw))
    return ModelCost(label, int(counts.total("params")), counts.total("mac"), counts.total("mac-all"))


class _Run:
    """One audit in progress: the plan, where exports go, the progress bar and the failures."""

    def __init__(self, plan: LatencyPlan, targets: list[Target], variants: list[str], workdir: Path,
                 bar: Any) -> None:
        self.plan, self.targets, self.variants = plan, targets, variants
        self.workdir, self.bar = workdir, bar
        self.failures: list[Failure] = []

    def fail(self, arch: str, stage: str, what: str, exc: RecalibError) -> None:
        self.failures.append(Failure(arch, stage, what, f"{type(exc).__name__}: {exc}", exc.exit_code))

    def step(self, text: str) -> None:
        self.bar.set_postfix_str(text, refresh=False)
        self.bar.update(1)

    def arch(self, arch: str) -> ArchAudit:
        """Build, count, export and time every model of ``arch``."""
        from recalib.models import model_spec

        spec = model_spec(arch)
        result = ArchAudit(arch, (spec.in_channels, *spec.input_size))
        done = self.bar.n
        models = self._models(result)
        if BASELINE in models:
            paths = {v: self._exports(result, models, v) for v in self.variants}
            for target in self.targets:
                for variant in (self.variants if target.runs_onnx else ["module"]):
                    self._time(result, target, variant, models, paths.get(variant, {}))
        # Models that failed to build leave their export steps undone: keep the bar honest.
        self.bar.update(_steps(self.plan, self.targets, self.variants) // len(self.plan.archs)
                        - (self.bar.n - done))
        return result

    def _models(self, result: ArchAudit) -> dict[str, tuple[nn.Module, nn.Module]]:
        """Label → (model as built, folded inference copy); costs recorded as a side effect."""
        import torch

        from recalib.folding import fold

        models: dict[str, tuple[nn.Module, nn.Module]] = {}
        for spec in (BASELINE, *self.plan.blocks):
            torch.manual_seed(0)  # the same weights in every run of the audit
            try:
                model = _build(result.arch, spec, result.input_chw)
                result.costs.append(_cost(spec, model, result.input_chw))
                models[spec] = (model, fold(model, result.input_chw))
            except RecalibError as exc:
                self.fail(result.arch, "build", spec, exc)
            self.step(f"{result.arch}: built {spec}")
        return models

    def _exports(self, result: ArchAudit, models: dict[str, tuple[nn.Module, nn.Module]],
                 variant: str) -> dict[str, Path]:
        """Export every model of ``result.arch`` the ``variant`` way; label → ONNX path."""
        from export import to_onnx

        folder = self.workdir / result.arch / variant
        folder.mkdir(parents=True, exist_ok=True)
        # Named either way: the exporter's own default may be either.
        options = {"optimize": variant == "optimized"}
        paths, infos = {}, {}
        for index, (label, (model, _)) in enumerate(models.items()):
            try:
                report = to_onnx(model, result.input_chw, folder / f"model{index}.onnx", seed=0,
                                 write_report=False, **options)
                paths[label] = Path(report.path)
                infos[label] = {"nodes": sum(report.op_histogram.values()), "ops": report.op_histogram,
                                "max_rel_error": report.max_rel_error, "seconds": report.export_seconds}
            except RecalibError as exc:
                self.fail(result.arch, f"export ({variant})", label, exc)
            self.step(f"{result.arch}: exported {label} ({variant})")
        result.exports[variant] = infos
        return paths

    def _time(self, result: ArchAudit, target: Target, variant: str,
              models: dict[str, tuple[nn.Module, nn.Module]], paths: dict[str, Path]) -> None:
        """Time the models of one target and export variant at every batch."""
        from deploy.bench import Candidate

        labels = [label for label in models if not target.runs_onnx or label in paths]
        for batch in self.plan.batches:
            self.step(f"{result.arch}: {target.name} {variant} batch {batch}")
            if BASELINE not in labels:
                continue  # the baseline's export failed: already recorded, nothing to compare with
            candidates = [Candidate(label, models[label][1], paths.get(label)) for label in labels]
            try:
                report = _compare(candidates, target, batch, result.input_chw, self.plan)
            except RecalibError as exc:
                self.fail(result.arch, "timing", f"{target.name} {variant} batch {batch}", exc)
                continue
            result.records += [_record(row, result.arch, target, variant, report) for row in _rows(report)]


def _compare(candidates: list[Any], target: Target, batch: int, chw: tuple[int, ...],
             plan: LatencyPlan) -> dict[str, Any]:
    from deploy.bench import BenchConfig, compare

    config = BenchConfig(runtimes=[target.runtime], batches=[batch], input_chw=chw,
                         warmup=plan.warmup_rounds(batch),
                         iters=plan.rounds(batch), threads=plan.threads, device=target.device)
    return compare(candidates, config)


def _rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    from deploy.report import records

    return records(report)


def _record(row: dict[str, Any], arch: str, target: Target, variant: str,
            report: dict[str, Any]) -> dict[str, Any]:
    """A deploy record with the architecture, target and export variant in front."""
    error = report["max_abs_error"].get(target.runtime, {}).get(row["model"])
    return {"arch": arch, "target": target.name, "runtime": target.runtime, "device": target.device,
            "export": variant, **row, "threads": report["config"]["threads"], "max_abs_error": error}


def _steps(plan: LatencyPlan, targets: Sequence[Target], variants: Sequence[str]) -> int:
    """Progress-bar length: builds, exports and timing jobs."""
    models = 1 + len(plan.blocks)
    jobs = sum(len(variants) if t.runs_onnx else 1 for t in targets) * len(plan.batches)
    return len(plan.archs) * (models * (1 + len(variants)) + jobs)


def audit_latency(plan: LatencyPlan, progress: bool = False) -> LatencyAudit:
    """Run the latency audit of ``plan``; ``progress`` shows a tqdm bar.

    Raises :class:`BackendUnavailable` for a runtime the user named that cannot run here;
    everything else that goes wrong is recorded in the result's ``failures``.
    """
    import torch
    from tqdm import tqdm

    from deploy import machine_info

    load_library()
    targets, skipped = resolve_targets(plan)
    variants, notes = export_variants(targets, plan.optimize)
    machine, start, threads = machine_info.collect(), time.perf_counter(), torch.get_num_threads()
    bar = tqdm(total=_steps(plan, targets, variants), desc="latency audit", unit="step", disable=not progress)
    try:
        # Building, exporting and reference outputs run on one thread: with more, torch waits at
        # every op for a thread that another process holds (27x slower on a busy 2-core machine).
        torch.set_num_threads(1)
        with tempfile.TemporaryDirectory(prefix="recalib-audit-") as tmp, bar:
            run = _Run(plan, targets, variants, Path(tmp), bar)
            archs = [run.arch(arch) for arch in plan.archs]
    finally:
        torch.set_num_threads(threads)
    load = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    return LatencyAudit(plan, targets, skipped, variants, notes, archs, run.failures, machine, load,
                        time.perf_counter() - start)

