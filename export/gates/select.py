"""Which gates an ablation removes: every gate, one stage's, or the ones named.

A gate is named by its :attr:`~recalib.export.gates.gate.Gate.name` (its module path where the
graph records one, else its multiply's node name), by its multiply's node name, by its number
(``3``, as ``recalib gates`` lists them), or by a module that contains it (``layer3`` names
every gate under ``layer3``). A *stage* is a feature-map size: the gates scaling maps of one
spatial size, numbered in graph order (``stage2``), the same on a torch module and on a graph
from any exporter.
"""
from __future__ import annotations

from collections.abc import Sequence

from recalib.errors import ConfigError
from recalib.export.gates.gate import Gate

__all__ = ["select_gates", "by_stage", "ALL"]

ALL = "all"


def by_stage(gates: Sequence[Gate]) -> dict[str, list[Gate]]:
    """``{"stage1": [...], "stage2": [...]}`` by feature-map size, in graph order."""
    stages: dict[str, list[Gate]] = {}
    for gate in gates:
        stages.setdefault(f"stage{gate.stage}" if gate.stage else "stage?", []).append(gate)
    return stages


def _matches(gate: Gate, name: str) -> bool:
    module = gate.module or ""
    return name in (gate.name, gate.mul, str(gate.number)) or (bool(module) and module.startswith(name + "."))


def select_gates(gates: Sequence[Gate], names: Sequence[str] = (ALL,)) -> list[Gate]:
    """The gates ``names`` pick (``all``, ``stageN`` or gate names), in graph order; an empty graph's
    or an unknown name is a :class:`ConfigError` listing what there is."""
    if not gates:
        raise ConfigError("no gates found, so there is nothing to ablate; `recalib gates MODEL` lists what "
                          "the detector finds")
    stages = by_stage(gates)
    chosen: dict[int, Gate] = {}
    for name in names:
        picked = list(gates) if name == ALL else stages.get(name) or [g for g in gates if _matches(g, name)]
        if not picked:
            known = [ALL, *stages, *(g.name for g in gates)]
            raise ConfigError(f"no gate is named {name!r}; choose from: {', '.join(known[:24])}"
                              + (f" … ({len(known) - 24} more)" if len(known) > 24 else ""))
        chosen.update((g.number, g) for g in picked)
    return [chosen[number] for number in sorted(chosen)]
