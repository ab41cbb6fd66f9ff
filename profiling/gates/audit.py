"""What a model's gates cost in latency, per runtime: the model against itself without them.

For each model (any specification, or an ``.onnx`` file), :func:`audit_gates` prepares it like
the latency audit prepares the papers' networks (seed 0, batch-norm statistics from random
inputs, one export per target form: :mod:`recalib.export.prepare`), finds and counts its gates
(:mod:`recalib.profiling.gates.inventory`), ablates them (every gate, and with ``per_stage`` each
stage's alone: :mod:`recalib.profiling.gates.ablation`), and times the original against every
ablation with :func:`recalib.deploy.bench.compare` on each runtime and batch: alternated rounds
in one worker process per runtime, medians and paired-bootstrap intervals from the same run.
The timing settings are a :class:`~recalib.profiling.latency.plan.LatencyPlan`'s (its
architectures and blocks are not used). A failure is recorded and the audit goes on, as in the
latency audit.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from recalib.deploy.machine_info import MachineInfo
from recalib.deploy.results import Measurement
from recalib.deploy.target import Target, onnx_runtimes
from recalib.errors import RecalibError
from recalib.export.gates.select import ALL, by_stage
from recalib.export.prepared import Prepared
from recalib.infra.workspace import temporary_folder
from recalib.profiling.gates.ablation import AblatedModel, ablated_model
from recalib.profiling.gates.inventory import GateInventory, inventory
from recalib.profiling.latency.audit import Failure, resolve_targets
from recalib.profiling.latency.plan import LatencyPlan
from recalib.spec import Spec

__all__ = ["GateRecord", "ModelGates", "GateAudit", "audit_gates", "latency_share"]


def latency_share(ratio: float) -> float:
    """The share (percent) of the original's latency that the ablation saved: ``ratio`` is ablated / original."""
    return 100.0 * (1.0 - ratio)


@dataclass(frozen=True)
class GateRecord:
    """An ablation timed against the original on one target and batch."""

    target: Target
    selection: str
    original: Measurement
    ablated: Measurement

    @property
    def share(self) -> tuple[float, float, float] | None:
        """Latency share of the ablated gates (percent of the original's median) and its 95% interval."""
        ratio = self.ablated.ratio
        if ratio is None:
            return None
        return latency_share(ratio.ratio), latency_share(ratio.ci_high), latency_share(ratio.ci_low)


@dataclass
class ModelGates:
    """One model's gates, ablations and timings; ``skipped``: runtimes that cannot time it, and why."""

    label: str
    inventory: GateInventory | None = None
    ablations: list[AblatedModel] = field(default_factory=list)
    records: list[GateRecord] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


@dataclass
class GateAudit:
    """Everything the gates audit measured, and what it could not."""

    plan: LatencyPlan
    targets: list[Target]
    skipped: dict[str, str]
    models: list[ModelGates]
    failures: list[Failure]
    machine: MachineInfo
    load_end: tuple[float, float, float] | None
    seconds: float


def _selections(gates: Sequence, per_stage: bool) -> dict[str, list[str]]:
    """Selection label → the names that select it: every gate, then (``per_stage``) each stage."""
    stages = list(by_stage(gates)) if per_stage else []
    return {"all gates": [ALL], **{stage: [stage] for stage in stages if len(stages) > 1}}


class _Run:
    def __init__(self, plan: LatencyPlan, targets: list[Target], folder: Path) -> None:
        self.plan, self.targets, self.folder = plan, targets, folder
        self.failures: list[Failure] = []

    def fail(self, label: str, stage: str, what: str, exc: RecalibError) -> None:
        self.failures.append(Failure.of(label, stage, what, exc))

    def model(self, spec: Spec, per_stage: bool) -> ModelGates:
        result = ModelGates(spec.text)
        try:
            original = self._prepare(spec)
            result.inventory = inventory(original)
            module_gates = result.inventory.gates
            for selection, names in _selections(module_gates, per_stage).items():
                result.ablations.append(ablated_model(original, module_gates, names, selection, self.folder))
        except RecalibError as exc:
            self.fail(spec.text, "gates", spec.text, exc)
            return result
        for target in self.targets:
            self._time(result, original, target)
        return result

    def _prepare(self, spec: Spec) -> Prepared:
        from recalib.export.export_all import export_all
        from recalib.export.options import ExportOptions, PrepareOptions
        from recalib.export.prepare import build

        options = PrepareOptions(export=ExportOptions(optimize=self.plan.optimize, tolerance=self.plan.tolerance))
        model = build(spec, options)
        if model.module is None:
            return model
        runtimes = onnx_runtimes(self.targets) or ["ort-cpu"]
        return export_all([model], self.folder, options, runtimes=runtimes)[0]

    def _time(self, result: ModelGates, original: Prepared, target: Target) -> None:
        from recalib.deploy.bench import compare

        blocked = [a.torch for a in result.ablations if a.torch is not None]
        if not target.runs_onnx and blocked:
            result.skipped[target.name] = blocked[0]
            return
        for batch in self.plan.batches:
            try:
                bench = compare([original, *(a.prepared for a in result.ablations)], self.plan.settings(target, batch))
            except RecalibError as exc:
                self.fail(result.label, "timing", f"{target.name} batch {batch}", exc)
                continue
            base = bench.get(target.name, batch, original.label)
            result.records += [GateRecord(target, a.selection, base, bench.get(target.name, batch, a.prepared.label))
                               for a in result.ablations]


def audit_gates(specs: Sequence[Spec], plan: LatencyPlan, per_stage: bool = False,
                progress: bool = False) -> GateAudit:
    """Find, count, ablate and time the gates of every model in ``specs`` on ``plan``'s runtimes and batches;
    ``progress`` shows a bar on a terminal, one step per model.

    Raises :class:`~recalib.errors.BackendUnavailable` for a runtime the user named that cannot run
    here; everything else that goes wrong is recorded in the result's ``failures``.
    """
    import torch

    from recalib.deploy import machine_info
    from recalib.infra.progress import progress_bar

    targets, skipped = resolve_targets(plan)
    machine, start, threads = machine_info.collect(), time.perf_counter(), torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # as the latency audit: work around the timing on one thread
        with temporary_folder("gates-") as folder:
            run = _Run(plan, targets, folder)
            models = [run.model(spec, per_stage)
                      for spec in progress_bar(specs, show=progress, desc="gates audit", unit="model")]
    finally:
        torch.set_num_threads(threads)
    return GateAudit(plan, targets, skipped, models, run.failures, machine, machine_info.load_average(),
                     time.perf_counter() - start)
