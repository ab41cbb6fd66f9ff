"""A model ready to measure (:class:`Prepared`), and one export of it (:class:`Export`).

Made by :mod:`recalib.export.prepare` (a built model), :mod:`recalib.export.from_file` (an
exported file as it is) or the bench (a TensorRT engine); exported by
:func:`recalib.export.prepare.export_prepared` and :func:`recalib.export.export_all.export_all`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recalib.errors import ConfigError
from recalib.export.derived import Derived
from recalib.export.report import ExportReport
from recalib.spec import Spec

if TYPE_CHECKING:
    from torch import nn

    from recalib.export.parity import Reference

__all__ = ["Prepared", "Export"]


@dataclass(frozen=True)
class Export:
    """One export of a model: its file, its report, and the targets whose form it is
    (``()`` for a plain export; several when no block has a target-specific form)."""

    file: Path
    report: ExportReport
    targets: tuple[str, ...]

    def describe(self) -> str:
        return f"optimised for {' and '.join(self.targets)}" if self.targets else "plain"


@dataclass
class Prepared:
    """One model ready to measure: the PyTorch reference and/or its exported file(s).

    ``module`` is the model as built (eval mode), the reference every runtime is judged
    against; None for a file spec. ``file`` (an ``.onnx``, or a TensorRT ``.engine`` given as
    it is) and ``report`` are set once exported (the first export, when there are several).
    ``exports`` maps each runtime to the export it times, where
    :func:`~recalib.export.export_all.export_all` exported for several runtimes. ``verified``
    says how its outputs are checked. ``derived`` (made with the module) holds its fold and
    float64 truth; the copies exporting makes share it, so every export, runtime and parity
    check of one model reuses one fold and one float64 copy.
    """

    label: str
    spec: Spec
    input_chw: tuple[int, int, int]
    module: nn.Module | None = None
    file: Path | None = None
    report: ExportReport | None = None
    fixed_batch: int | None = None
    weights: dict[str, Any] = field(default_factory=dict)
    verified: str = "against its float64 PyTorch model on every runtime, before timing"
    exports: dict[str, Export] = field(default_factory=dict)
    derived: Derived | None = field(default=None, repr=False)
    quantized: bool = False  # a file read as it is (from_file): a QDQ (int8) graph

    def __post_init__(self) -> None:
        if self.module is not None and self.derived is None:
            self.derived = Derived(self.module, self.input_chw)

    def reference(self, batch: int) -> Reference:
        """The float64 truth every runtime is judged against at ``batch``, computed once per batch."""
        if self.derived is None:
            raise ConfigError(f"{self.label} is an exported file: there is no PyTorch model to judge it by")
        return self.derived.reference(batch)

    def file_for(self, runtime: str) -> Path | None:
        """The file ``runtime`` times: the export made for it, else the one file (None: not exported)."""
        return self.exports[runtime].file if runtime in self.exports else self.file

    def quantized_for(self, runtime: str) -> bool:
        """Whether the file ``runtime`` times is a QDQ (int8) graph: its export's precision, else the form
        read from the file."""
        if runtime in self.exports:
            return self.exports[runtime].report.precision == "int8"
        return self.report.precision == "int8" if self.report is not None else self.quantized

    def inference(self) -> nn.Module:
        """The folded inference copy of ``module`` (what torch runtimes run), the one its exports use."""
        if self.derived is None:
            raise ConfigError(f"{self.label} is an exported file: torch runtimes need an architecture "
                              f"or a checkpoint; time the file on an ONNX runtime")
        return self.derived.folded().model
