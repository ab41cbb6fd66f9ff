"""Profile one model (recalib's, or a user's factory or program): totals under every convention, work by
category, block by block.

A model recalib did not build (an architecture registered by the user, :mod:`recalib.registry`, a
factory or a program) and that holds none of recalib's blocks is exported once and its gates are found in the graph
(:mod:`recalib.profiling.gates.inventory`): they are then its recalibration, attributed by module
path (:func:`recalib.profiling.counting.breakdown.breakdown`). The library's own backbones hold
gates only in recalib's blocks, so they are not exported for it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recalib.profiling.counting.breakdown import Breakdown, breakdown
from recalib.profiling.counting.conventions import CONVENTIONS, DEFAULT_CONVENTION, Convention, Reading, resolve
from recalib.profiling.counting.counts import Counts, count_module
from recalib.profiling.counting.crosscheck import CrossCheck, crosscheck
from recalib.profiling.counting.scopes import recalibration_modules
from recalib.profiling.gates.inventory import GateInventory, inventory_of_module
from recalib.errors import ConfigError
from recalib.models.catalog import arch_entry
from recalib.record import ModelRecord, Record
from recalib.spec import Spec, parse_spec

__all__ = ["Profile", "profile_model"]


@dataclass(frozen=True)
class Profile:
    """Everything ``recalib profile`` shows about one model (``record``: as built, the reading's options included)."""

    record: Record
    reading: Reading
    flop_convention: Convention
    param_convention: Convention
    counts: Counts
    breakdown: Breakdown
    crosscheck: CrossCheck | None
    gates: GateInventory | None = None

    def totals(self) -> dict[str, float]:
        """The whole model under every convention."""
        return {name: self.counts.total(conv) for name, conv in CONVENTIONS.items()}

    def to_json(self) -> dict[str, Any]:
        b = self.breakdown
        record = self.record
        model = ({"arch": record.arch, "block": record.block, "options": dict(sorted(record.options.items())),
                  "stages": list(record.stages) if record.stages is not None else None}
                 if isinstance(record, ModelRecord) else {"model": record.describe()})
        return {
            **model,
            "reading": self.reading.name, "input_shape": list(self.counts.input_shape),
            "flop_convention": self.flop_convention.name, "param_convention": self.param_convention.name,
            "params": b.total_params, "flops": b.total_flops,
            "recalibration": {"params": b.recal_params, "flops": b.recal_flops,
                              "param_share": b.param_share, "flop_share": b.flop_share},
            "totals": self.totals(),
            "flops_by_category": dict(self.counts.categories("flops")),
            "params_by_category": dict(self.counts.categories("params")),
            "blocks": [{"module": s.name, "kind": s.kind, "params": s.params, "flops": s.flops}
                       for s in b.blocks],
            "gates": None if self.gates is None else self.gates.to_json(),
            "unsupported_ops": dict(self.counts.unsupported),
            "crosscheck": None if self.crosscheck is None else {
                "fvcore_flops": self.crosscheck.fvcore_flops, "torch_flops": self.crosscheck.torch_flops,
                "agree": self.crosscheck.ok},
        }


def _conventions(name: str | None) -> tuple[Convention, Convention, Reading]:
    """(FLOP convention, parameter convention, reading) for a convention or preset name."""
    flops, params = CONVENTIONS[DEFAULT_CONVENTION["flops"]], CONVENTIONS[DEFAULT_CONVENTION["params"]]
    if name is None:
        return flops, params, resolve("mac")[1]
    chosen, reading = resolve(name)
    if chosen.metric == "flops":
        return chosen, params, reading
    return flops, chosen, reading


def _library_built(record: Record) -> bool:
    """Whether recalib's own code builds ``record``'s architecture (not a builder the user registered,
    a factory or a program)."""
    return isinstance(record, ModelRecord) and arch_entry(record.arch).builder.__module__.startswith("recalib.")


def profile_model(spec: Spec | str, *, convention: str | None = None, check: bool = False) -> Profile:
    """Build the model ``spec`` names, trace it once at its input size and summarise it.

    ``spec`` is a :mod:`recalib.spec` specification (``"resnet50:stride_in_1x1=true+se:reduction=8"``,
    a checkpoint, whose stored architecture is counted, a factory or a program); ``convention`` is a
    convention or paper-preset name (a preset also sets its layout, so it applies to recalib's
    architectures only); ``check`` adds the cross-check against ``torch.utils.flop_counter``.
    """
    spec = parse_spec(spec) if isinstance(spec, str) else spec
    if spec.record is None:
        raise ConfigError(f"{spec.text} is an exported file; count its graph with "
                          f"recalib.profiling.gates.inventory.inventory_of_graph (recalib profile FILE.onnx)")
    flop_conv, param_conv, reading = _conventions(convention)
    record = spec.record
    if reading.options:
        if not isinstance(record, ModelRecord):
            raise ConfigError(f"the preset {reading.name} builds recalib's architectures its paper's way; count "
                              f"{spec.text} with a convention instead ({', '.join(CONVENTIONS)})")
        record = record.with_options(reading.options)
    model = record.create().eval()
    counts = count_module(model, (1, *record.input_chw()))
    foreign = not recalibration_modules(model) and not _library_built(record)
    found = inventory_of_module(model, record.input_chw(), spec.text, counts) if foreign else None
    split = breakdown(model, counts, flop_conv, param_conv, found.costs.gates if found else ())
    return Profile(record, reading, flop_conv, param_conv, counts, split,
                   crosscheck(model, counts) if check else None, found)
