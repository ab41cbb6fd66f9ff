"""What an export and a preparation are asked to do: option records, validated when they are made.

:class:`ExportOptions` is one :func:`recalib.export.to_onnx` request (batch, fold, target, opset,
tolerance, seed, strictness, where and how it is written, :class:`Verification`);
:class:`PrepareOptions` adds the weights' seed and calibration for :mod:`recalib.export.prepare`;
:class:`OptimizeOptions` is one ONNX-to-ONNX optimisation (:mod:`recalib.export.optimize_file`).
A bad value fails when the record is made, before any work, and nothing downstream checks it again.

Light to import (no torch, onnx or numpy at module level): the command line builds its parser
with these records' defaults, so each default is written once, here.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from recalib.errors import ConfigError, ExportError, quote
from recalib.export.rewrites import DEFAULT_TARGET, TARGETS, check_target

if TYPE_CHECKING:
    from recalib.export.labelled import LabelledData
    from recalib.export.inputs import Opener
    from recalib.export.quantize.calibration import CalibrationSet

__all__ = ["ExportOptions", "Verification", "Quantization", "PRECISIONS", "DEFAULT_PRECISION", "check_precision_name",
           "CALIBRATION_METHODS", "DEFAULT_CALIBRATION_METHOD", "check_calibration_method",
           "PrepareOptions", "OptimizeOptions", "check_opset", "check_seed", "check_tolerance", "supported_opsets",
           "DEFAULT_OPSET", "DEFAULT_TOLERANCE", "VERIFIED_BATCHES"]

DEFAULT_TOLERANCE = 1e-4  # the parity bound's floor, relative to the largest output (recalib.export.parity)
# torch's dynamo exporter builds opset-18 graphs and converts upward; asked for less, it
# silently returns 18, so lower opsets are refused up front.
LOWEST_OPSET = 18
DEFAULT_OPSET = 18
VERIFIED_BATCHES = (1, 3)  # a dynamic-batch export is verified at these batch sizes


def supported_opsets() -> range:
    """The opsets this exporter can produce (onnx is imported only when asked)."""
    import onnx

    return range(LOWEST_OPSET, onnx.defs.onnx_opset_version() + 1)


def check_opset(opset: int) -> int:
    """Return ``opset`` if this exporter can produce it, else raise :class:`ExportError`."""
    supported = supported_opsets()
    if not isinstance(opset, int) or opset not in supported:
        import torch

        raise ExportError(f"opset {opset!r} is not supported: torch {torch.__version__.split('+')[0]}'s "
                          f"exporter produces opsets {supported.start}-{supported.stop - 1} "
                          f"(TensorRT 10.0 reads 9-20, so 18-20 suit it)")
    return opset


SEED_LIMIT = 2**64  # torch, numpy and onnxruntime all take a seed below it


def check_seed(seed: int | None) -> int | None:
    """Return ``seed`` if it is None or an integer in [0, 2**64), else raise :class:`ConfigError`."""
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < SEED_LIMIT):
        raise ConfigError(f"a seed is an integer from 0 to 2**64 - 1, got {quote(seed)}")
    return seed


def check_tolerance(tolerance: float) -> float:
    """``tolerance`` if it is a finite number >= 0, else a ConfigError saying what to pass."""
    if not isinstance(tolerance, (int, float)) or not math.isfinite(tolerance) or tolerance < 0:
        raise ConfigError(f"the parity tolerance must be a finite number >= 0 (relative to the largest "
                          f"output), got {tolerance!r}; the default is {DEFAULT_TOLERANCE:g}")
    return float(tolerance)


@dataclass(frozen=True, eq=False)
class Verification:
    """What an export is verified on: fresh random inputs (``data`` None) or labelled data
    (:mod:`recalib.export.agreement`: parity and top-1 agreement); onnxruntime CPU in this process
    (``runtimes`` None) or each named runtime (:data:`recalib.export.inputs.Opener` functions, which
    ``recalib.deploy.runner.opener`` makes)."""

    data: LabelledData | None = None
    runtimes: Mapping[str, Opener] | None = None

    @property
    def inputs(self) -> str:
        """What the report says the export was verified on."""
        return "random inputs" if self.data is None else self.data.name


PRECISIONS = ("fp32", "bf16", "fp16", "int8")  # --precision everywhere: what the runtimes compute in
DEFAULT_PRECISION = "fp32"


def check_precision_name(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else a ConfigError listing them."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return precision


# How int8 activation ranges are read from the calibration images (onnxruntime's CalibrationMethod,
# :mod:`recalib.export.quantize.calibration`): the extremes, or a high percentile of the values. Not
# onnxruntime's Entropy: through quantize_static it searches 128 histogram bins for 128 quantised bins,
# so its one candidate is the whole range, the min-max scales (see calibration.py).
CALIBRATION_METHODS = ("minmax", "percentile")
DEFAULT_CALIBRATION_METHOD = "minmax"


def check_calibration_method(method: str) -> str:
    """``method`` if it is one of :data:`CALIBRATION_METHODS`, else a ConfigError listing them."""
    if method not in CALIBRATION_METHODS:
        raise ConfigError(f"calibration method {method!r} is not one of {', '.join(CALIBRATION_METHODS)}")
    return method


@dataclass(frozen=True, eq=False)
class Quantization:
    """How an int8 export is quantised (:mod:`recalib.export.quantize`): the ``calibration`` images its
    activation ranges are measured on, how the ranges are read from them (``method``, one of
    :data:`CALIBRATION_METHODS`), and whether the gates stay in float (``gates_in_float``)."""

    calibration: CalibrationSet
    gates_in_float: bool = False
    method: str = DEFAULT_CALIBRATION_METHOD

    def __post_init__(self) -> None:
        check_calibration_method(self.method)


@dataclass(frozen=True)
class ExportOptions:
    """One export request.

    ``fixed_batch`` None exports a dynamic batch (verified at :data:`VERIFIED_BATCHES`), N a graph
    for batch N only. ``fold`` applies the inference rewrite (:mod:`recalib.folding`). ``optimize``
    applies the exact rewrites of :mod:`recalib.export.optimize` for a target runtime: ``True`` for
    its default target (where runtimes are named, :mod:`recalib.export.prepare` reads it as each
    runtime's own), a target's name (``"openvino"``), ``False`` none. ``tolerance`` is the parity
    bound's floor (:mod:`recalib.export.parity`); ``seed`` draws the random check inputs (None: fresh
    ones). ``strict_trt`` fails on any TensorRT lint finding. ``force`` replaces existing files
    (never the model's own input files); ``write_report`` writes ``<stem>.report.json`` beside the
    export. ``precision`` is what the verifying runtimes compute in (:data:`PRECISIONS`): ``fp32``;
    ``bf16``/``fp16`` (the file stays float32, the runtimes named in ``verification`` compute in that
    precision, judged against PyTorch in it); ``int8`` writes the QDQ graph that ``quantization`` makes
    (the float32 export verified first, then the int8 one, each on its own bounds).
    """

    fixed_batch: int | None = None
    fold: bool = True
    optimize: bool | str = True
    opset: int = DEFAULT_OPSET
    tolerance: float = DEFAULT_TOLERANCE
    seed: int | None = None
    strict_trt: bool = False
    force: bool = False
    write_report: bool = True
    verification: Verification = Verification()
    precision: str = DEFAULT_PRECISION
    quantization: Quantization | None = None

    def __post_init__(self) -> None:
        check_seed(self.seed)
        check_precision_name(self.precision)
        if (self.precision == "int8") != (self.quantization is not None):
            raise ConfigError("an int8 export needs calibration images (--calibration digits|FILE.npz|random), "
                              "and only an int8 export takes them" if self.precision == "int8" else
                              f"calibration images are for int8 exports, not {self.precision}; pass --precision int8")
        check_opset(self.opset)
        check_tolerance(self.tolerance)
        check_target(self.optimize)
        fixed = self.fixed_batch
        if fixed is not None and (not isinstance(fixed, int) or isinstance(fixed, bool) or fixed < 1):
            raise ConfigError(f"a fixed batch must be a positive integer, got {fixed!r}")

    @property
    def target(self) -> str | None:
        """The runtime the rewrites are chosen for (None: no rewrites)."""
        return check_target(self.optimize)

    @property
    def dynamic_batch(self) -> bool:
        return self.fixed_batch is None

    @property
    def verified_batches(self) -> tuple[int, ...]:
        """The batch sizes the export is verified at on random inputs."""
        return VERIFIED_BATCHES if self.fixed_batch is None else (self.fixed_batch,)


@dataclass(frozen=True)
class PrepareOptions:
    """How :mod:`recalib.export.prepare` prepares a model: its weights, their calibration, its export.

    ``seed`` draws random weights, the calibration inputs and, unless ``export.seed`` names
    another, the export's check inputs. ``calibrate`` None means "when the weights are random"
    (an architecture, not a checkpoint).
    """

    seed: int = 0
    calibrate: bool | None = None
    export: ExportOptions = field(default_factory=ExportOptions)

    def __post_init__(self) -> None:
        check_seed(self.seed)


@dataclass(frozen=True)
class OptimizeOptions:
    """One ONNX-to-ONNX optimisation (:func:`recalib.export.optimize_file.optimize_file`).

    ``target`` picks the rewrites (one of :data:`recalib.export.rewrites.TARGETS`); ``tolerance`` is
    the parity bound's floor, the rewritten graph being judged against the input graph
    (:mod:`recalib.export.graph.truth`); ``input_size`` ``(H, W)`` is the size random inputs are drawn
    at where the graph's H and W are dynamic; ``seed`` draws them (None: fresh ones);
    ``verification`` says what to verify on (random inputs, or labelled data); ``force`` replaces
    an existing output (never the input).
    """

    target: str = DEFAULT_TARGET
    tolerance: float = DEFAULT_TOLERANCE
    input_size: tuple[int, int] | None = None
    seed: int | None = None
    force: bool = False
    verification: Verification = Verification()

    def __post_init__(self) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"target {self.target!r} is not one of {', '.join(TARGETS)}")
        check_seed(self.seed)
        check_tolerance(self.tolerance)
        size = self.input_size
        if size is not None and (len(size) != 2 or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0
                                                             for d in size)):
            raise ConfigError(f"an input size is two positive integers (H, W), got {size!r}")
