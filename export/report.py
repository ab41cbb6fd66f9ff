"""The export report: what was written, and the evidence that it is right."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import onnx

from recalib.export.agreement import AgreementCheck
from recalib.export.trt_lint import TRT_VERSION, Finding
from recalib.export.parity import PYTORCH_MARGIN, ParityCheck

__all__ = ["ExportReport", "op_histogram"]


def op_histogram(model: onnx.ModelProto) -> dict[str, int]:
    """Node count per op type, most frequent first."""
    return dict(Counter(n.op_type for n in model.graph.node).most_common())


@dataclass
class ExportReport:
    """Everything :func:`recalib.export.to_onnx` established about one exported file.

    ``parity`` judges onnxruntime against the original (unfolded) PyTorch model in float64
    (:mod:`recalib.export.parity`), so it covers both folding and export; ``fold_max_rel_error``
    isolates the folding step. ``verified_on`` names the inputs of the parity checks: random
    inputs, or a labelled data set, on which ``agreement`` holds each runtime's decisions.
    ``sha256`` is the digest of the ``.onnx`` file the checks ran on: a reader trusts the report
    only for the file with that digest (:mod:`recalib.export.from_file`), never for another file
    it was copied beside, nor for a newer file an interrupted ``--force`` left beside it.
    """

    path: str
    opset: int
    size_bytes: int
    input_name: str
    input_dims: list[int | str]
    output_dims: list[list[int | str]]
    op_histogram: dict[str, int]
    parity: list[ParityCheck]
    tolerance: float
    trt_findings: list[Finding]
    folding: list[str] = field(default_factory=list)
    fold_max_rel_error: float | None = None
    fold_check_dtype: str | None = None
    optimized: bool = False
    target: str | None = None  # the runtime the rewrites were chosen for (export.optimize.TARGETS)
    rewrites: list[str] = field(default_factory=list)
    rewrites_left_as_is: list[str] = field(default_factory=list)  # candidates a graph rewrite could not rewrite exactly
    external_data: str | None = None
    export_seconds: float = 0.0
    verify_seconds: float = 0.0
    source: dict[str, Any] = field(default_factory=dict)
    verified_on: str = "random inputs"
    agreement: list[AgreementCheck] = field(default_factory=list)
    sha256: str = ""
    precision: str = "fp32"  # what the verifying runtimes computed in (int8: the file is a QDQ graph)
    quantization: dict[str, Any] = field(default_factory=dict)  # int8: recipe, calibration, each gate's placement, float nodes

    @property
    def max_rel_error(self) -> float:
        """The largest parity error (relative to the largest true output)."""
        return max(p.error for p in self.parity)

    def _quantization_lines(self) -> list[str]:
        """The int8 recipe, its calibration warning and where each gate computes (none for float exports)."""
        if not self.quantization:
            return []
        recipe = self.quantization["recipe"]
        lines = [f"  int8: {recipe['weights']} weights, {recipe['activations']} activations, calibrated on "
                 f"{recipe['calibration']}" + (", gates in float" if recipe["gates_in_float"] else "")]
        if "warning" in self.quantization:
            lines.append(f"  WARNING: {self.quantization['warning']}")
        lines += [f"    gate {g['gate']}: int8 {', '.join(g['int8']) or 'none'}; float {', '.join(g['float']) or 'none'}"
                  for g in self.quantization["gates"]]
        floating = self.quantization["float_nodes"]
        lines.append(f"    nodes in float: {len(floating)}" + (f" ({', '.join(floating)})" if floating else ""))
        return lines

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["max_rel_error"] = self.max_rel_error
        data["pytorch_margin"] = PYTORCH_MARGIN
        data["trt_version"] = TRT_VERSION
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def summary(self) -> str:
        """A readable multi-line summary for people (the JSON holds the same facts)."""
        dims = "x".join(map(str, self.input_dims))
        ops = ", ".join(f"{op} {n}" for op, n in self.op_histogram.items())
        lines = [f"{self.path}: {self.size_bytes / 2**20:.2f} MiB, opset {self.opset}, "
                 f"input {self.input_name!r} {dims}, {sum(self.op_histogram.values())} nodes",
                 f"  ops: {ops}",
                 f"  exported in {self.export_seconds:.1f} s, verified in {self.verify_seconds:.1f} s"]
        weights = self.source.get("weights")
        if weights:
            lines.append("  weights: " + ", ".join(f"{k} {v}" for k, v in weights.items()))
        lines.append(f"  verified on {self.verified_on}" + ("" if self.precision == "fp32" else f", at {self.precision}"))
        lines += self._quantization_lines()
        lines += [f"  parity: {p.describe()}" for p in self.parity]
        lines += [f"  agreement: {a.describe()}".replace("\n", "\n  ") for a in self.agreement]
        if self.folding:
            lines.append(f"  folding ({len(self.folding)} rewrites, max rel change "
                         f"{self.fold_max_rel_error or 0:.1e} checked in {self.fold_check_dtype}):")
            lines += [f"    {a}" for a in self.folding]
        else:
            lines.append("  folding: none" if self.fold_max_rel_error is not None else "  folding: off")
        if self.optimized:
            lines.append(f"  optimized for {self.target} ({len(self.rewrites)} rewrites, export.optimize):")
            lines += [f"    {r}" for r in self.rewrites]
            lines += [f"    {r}" for r in self.rewrites_left_as_is]
        else:
            lines.append("  optimization: off")
        lines.append(f"  TensorRT {TRT_VERSION} lint: {len(self.trt_findings) or 'no'} findings")
        lines += [f"    {f.op} {f.node}: {f.message}" for f in self.trt_findings]
        return "\n".join(lines)
