"""The report of one ``recalib optimize``: what the pass did to the graph, and the evidence it is exact."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from recalib.export.agreement import AgreementCheck
from recalib.export.graph.passes import PassReport
from recalib.export.parity import PYTORCH_MARGIN, ParityCheck

__all__ = ["OptimizeReport"]


@dataclass
class OptimizeReport:
    """``source`` rewritten for ``target`` into ``path``: the pass's report, the op histograms before
    and after, and each parity check of the output against the input graph (``verified_on``:
    random inputs drawn from ``seed``, or labelled data, with each runtime's ``agreement``); ``sha256``
    binds the report to the written file, as an export report's does."""

    source: str
    path: str
    target: str
    input_dims: list[int | str]
    graph_pass: PassReport
    ops_before: dict[str, int]
    ops_after: dict[str, int]
    parity: list[ParityCheck]
    tolerance: float
    verified_on: str
    seed: int | None
    agreement: list[AgreementCheck] = field(default_factory=list)
    external_data: str | None = None
    seconds: float = 0.0
    sha256: str = ""

    @property
    def max_rel_error(self) -> float:
        """The largest parity error (relative to the input graph's largest float64 output)."""
        return max(p.error for p in self.parity)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["graph_pass"] = self.graph_pass.to_dict()
        data["rewrites"] = self.graph_pass.fired()
        data["max_rel_error"] = self.max_rel_error
        data["pytorch_margin"] = PYTORCH_MARGIN
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        """A readable summary for people (the JSON holds the same facts, and each node's answer)."""
        fired, left = self.graph_pass.fired(), self.graph_pass.left_as_is()
        changed = {op: (self.ops_before.get(op, 0), self.ops_after.get(op, 0))
                   for op in sorted({*self.ops_before, *self.ops_after})
                   if self.ops_before.get(op, 0) != self.ops_after.get(op, 0)}
        lines = [f"{self.path}: {self.source} optimized for {self.target} in {self.seconds:.1f} s "
                 f"({len(fired)} rewrites fired, {len(left)} candidates left as they were)"]
        lines += [f"  {line}" for line in fired] or ["  no rewrite applies to this graph"]
        lines += [f"  {line}" for line in left]
        if changed:
            lines.append("  ops: " + ", ".join(f"{op} {a} -> {b}" for op, (a, b) in changed.items()))
        lines.append(f"  verified on {self.verified_on}" + ("" if self.seed is None else f" (seed {self.seed})"))
        lines += [f"  parity: {p.describe()}" for p in self.parity]
        lines += [f"  agreement: {a.describe()}".replace("\n", "\n  ") for a in self.agreement]
        return "\n".join(lines)
