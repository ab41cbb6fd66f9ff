"""``to_onnx``: one verified, self-contained, standard-ops ONNX file per call, or an error.

Order of work: validate the request (opset, shape, destination) before anything slow; fold;
optimize (exact inference rewrites, :mod:`recalib.export.optimize`); export with torch's dynamo
exporter and our exact decompositions (and layout rewrites); write into a staging
folder; check structure, opset, domains and input dims; compare onnxruntime with the
original PyTorch model; lint for TensorRT; only then move the files into place.
"""
from __future__ import annotations

import contextlib
import io
import logging
import numbers
import secrets
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from recalib.export import optimize as optimizing
from recalib.export.agreement import AgreementCheck, num_classes, verify_on_data
from recalib.export.decompose import translation_table
from recalib.export.float64 import fast_float64
from recalib.export.labelled import LabelledData
from recalib.export.parity import DEFAULT_TOLERANCE, ParityCheck, Truth, check_tolerance
from recalib.export.report import ExportReport, op_histogram
from recalib.export.trt_lint import lint
from recalib.export.verify import Opener, check_structure, parity
from recalib.infra.atomic import check_destinations, file_path, staging
from recalib.errors import ConfigError, ExportError, RecalibError, first_line
from recalib.folding import FoldResult, fold_model, run_model

__all__ = ["to_onnx", "check_opset", "check_weights", "SUPPORTED_OPSETS", "DEFAULT_OPSET", "VERIFIED_BATCHES"]

# torch's dynamo exporter builds opset-18 graphs and converts upward; asked for less, it
# silently returns 18, so lower opsets are refused up front.
SUPPORTED_OPSETS = range(18, onnx.defs.onnx_opset_version() + 1)
DEFAULT_OPSET = 18
EXTERNAL_DATA_BYTES = 1_800_000_000  # protobuf's 2 GiB limit, with room for the graph itself
VERIFIED_BATCHES = (1, 3)  # a dynamic-batch export is verified at these batch sizes


@dataclass(frozen=True)
class _Options:
    """One export request, validated."""

    dynamic_batch: bool
    batch: int
    fold: bool
    optimize: str | None  # the export target (export.optimize.TARGETS), None when off
    opset: int
    force: bool
    strict_trt: bool
    tolerance: float
    seed: int
    provenance: dict[str, Any]
    inputs: tuple[Path, ...]
    verify_data: LabelledData | None = None
    runtimes: Mapping[str, Opener] | None = None


def check_opset(opset: int) -> int:
    """Return ``opset`` if this exporter can produce it, else raise :class:`ExportError`."""
    if not isinstance(opset, int) or opset not in SUPPORTED_OPSETS:
        raise ExportError(f"opset {opset!r} is not supported: torch {torch.__version__.split('+')[0]}'s "
                          f"exporter produces opsets {SUPPORTED_OPSETS.start}-{SUPPORTED_OPSETS.stop - 1} "
                          f"(TensorRT 10.0 reads 9-20, so 18-20 suit it)")
    return opset


def _is_size(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _normalize_shape(input_shape: Sequence[int], batch_size: int) -> tuple[tuple[int, ...], int]:
    """``(C, H, W)`` and the batch size, from ``(C, H, W)`` or ``(N, C, H, W)`` of integers."""
    if isinstance(input_shape, (torch.Tensor, str, bytes)) or not isinstance(input_shape, Sequence):
        given = f"a tensor of shape {tuple(input_shape.shape)}" if isinstance(input_shape, torch.Tensor) else (
            repr(input_shape))
        raise ConfigError(f"input_shape must be a shape such as (3, 224, 224), not {given}; for an example "
                          f"tensor x pass tuple(x.shape)")
    if not all(_is_size(d) for d in input_shape) or not _is_size(batch_size):
        raise ConfigError(f"input_shape must hold whole numbers, got {tuple(input_shape)} with batch "
                          f"{batch_size!r}; sizes are not rounded for you")
    shape = tuple(int(d) for d in input_shape)
    if len(shape) == 4:
        batch_size, shape = shape[0], shape[1:]
    if len(shape) != 3 or min(shape) < 1 or batch_size < 1:
        raise ConfigError(f"input_shape must be (C, H, W) or (N, C, H, W) of positive sizes, got "
                          f"{tuple(input_shape)} with batch {batch_size}")
    return shape, batch_size


def check_weights(model: nn.Module) -> None:
    """Refuse, before any work, weights that cannot be exported and verified: not float32, or not finite.

    Exports take one float32 input, so a float64 (or half) model would fail in the exporter with
    a dtype error that reads like a shape problem; and a weight that is NaN or infinite makes
    every output NaN, which no parity check can pass (an FP16 engine is built from the float32
    export: the tensorrt runtime's ``precision="fp16"``).
    """
    for name, tensor in (*model.named_parameters(), *model.named_buffers()):
        if not tensor.is_floating_point():
            continue
        if tensor.dtype != torch.float32:
            raise ConfigError(f"{name} is {tensor.dtype}: exports are made from float32 models; call "
                              f"model.float() first (for FP16 inference, build an FP16 engine from the export)")
        bad = int((~torch.isfinite(tensor.detach())).sum())
        if bad:
            raise ConfigError(f"{name} holds {bad} NaN or infinite value(s) of {tensor.numel()}: every output "
                              f"would be NaN, so the export cannot be verified; the weights come from a diverged "
                              f"training run or a damaged checkpoint: export finite weights")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporter's progress prints, warnings and logs; our report says what matters."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _recalib_cause(exc: BaseException | None) -> RecalibError | None:
    """The RecalibError (e.g. a block's ShapeError) buried in the exporter's exception chain."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, RecalibError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _export(module: nn.Module, example: torch.Tensor, opts: _Options,
            output_names: list[str]) -> torch.onnx.ONNXProgram:
    """Run torch's dynamo exporter with our decompositions; errors become recalib errors."""
    dynamic = ({0: torch.export.Dim("batch", min=1)},) if opts.dynamic_batch else None
    table = optimizing.translation_table(opts.optimize) if opts.optimize else translation_table()
    try:
        with _quiet():
            program = torch.onnx.export(module, (example,), None, dynamo=True, opset_version=opts.opset,
                                        dynamic_shapes=dynamic, input_names=["input"],
                                        output_names=output_names, verbose=False,
                                        custom_translation_table=table)
    except Exception as exc:
        cause = _recalib_cause(exc)
        if cause is not None:
            raise cause from exc
        raise ExportError(f"torch.onnx.export failed: {first_line(exc)}") from exc
    if program is None:  # only when given a file name, which we never pass
        raise ExportError("torch.onnx.export returned no program")
    return program


def _save(program: torch.onnx.ONNXProgram, target: Path, module: nn.Module) -> bool:
    """Write one self-contained file, or file + ``<name>.data`` when weights exceed protobuf's limit."""
    weight_bytes = sum(t.numel() * t.element_size() for t in module.state_dict().values())
    external = weight_bytes > EXTERNAL_DATA_BYTES
    try:
        program.save(str(target), external_data=external)
    except OSError as exc:
        raise ExportError(f"cannot write {target.name}: {exc}") from exc
    return external


def to_onnx(model: nn.Module, input_shape: Sequence[int], path: str | Path, *,
            dynamic_batch: bool = True, batch_size: int = 1, fold: bool = True,
            optimize: bool | str = True, opset: int = DEFAULT_OPSET, force: bool = False,
            strict_trt: bool = False, tolerance: float = DEFAULT_TOLERANCE, write_report: bool = True,
            seed: int | None = None, provenance: Mapping[str, Any] | None = None,
            verify_data: LabelledData | None = None, runtimes: Mapping[str, Opener] | None = None) -> ExportReport:
    """Export ``model`` (one ``(N, C, H, W)`` float32 input) to a verified ONNX file at ``path``.

    ``input_shape`` is ``(C, H, W)`` (or ``(N, C, H, W)``, whose N is the static batch); H and W
    are static, the batch is symbolic when ``dynamic_batch``. ``optimize`` applies the exact
    inference rewrites of :mod:`recalib.export.optimize` (listed in the report's ``rewrites``), which
    make blocks cheap on a target runtime: ``True`` for onnxruntime CPU, or a target's name
    (``"openvino"``); the report records it as ``target``. The report (also written as
    ``<stem>.report.json`` when ``write_report``) holds the parity errors, op histogram and
    TensorRT findings; ``provenance`` (where the weights came from) is recorded in its
    ``source``. The export is verified on fresh random inputs, or on ``verify_data`` (labelled
    data, :mod:`recalib.export.agreement`: parity and top-1 agreement), on each of ``runtimes`` (named
    :data:`recalib.export.verify.Opener` functions; default onnxruntime CPU). Raises ExportError /
    VerificationError / ShapeError / DataError; on any error no file is left behind, and
    existing files are replaced only with ``force``.
    """
    opset, tolerance = check_opset(opset), check_tolerance(tolerance)
    target = optimizing.check_target(optimize)
    chw, batch_size = _normalize_shape(input_shape, batch_size)
    check_weights(model)
    path = file_path(path)
    report_path = path.with_suffix(".report.json")
    # A model loaded from a checkpoint must not be exported over that checkpoint, even with force.
    inputs = [Path(p) for p in [getattr(model, "recalib_checkpoint", None)] if p]
    check_destinations([path, report_path] if write_report else [path], force, inputs)
    was_training = model.training
    model.eval()
    try:
        if verify_data is not None:  # before the slow export: data that does not fit fails now
            verify_data.check_fits(chw).check_classes(num_classes(model, verify_data))
        return _run(model, chw, path, report_path if write_report else None,
                    _Options(dynamic_batch, batch_size, fold, target, opset, force, strict_trt,
                             tolerance, secrets.randbits(31) if seed is None else seed,
                             dict(provenance or {}), tuple(inputs), verify_data, runtimes))
    finally:
        model.train(was_training)


def _run(model: nn.Module, chw: tuple[int, ...], path: Path, report_path: Path | None,
         opts: _Options) -> ExportReport:
    """The export pipeline proper (see the module docstring for the order of work)."""
    start = time.perf_counter()
    with fast_float64():  # folding is done and checked in float64
        folded = fold_model(model, chw) if opts.fold else None
    module = folded.model if folded else model
    rewrites: list[str] = []
    if opts.optimize:
        optimized = optimizing.optimize_model(module, opts.optimize)
        module, rewrites = optimized.model, optimized.actions
    # A dynamic batch is traced at 2: torch.export specialises example sizes 0 and 1.
    example = torch.randn(2 if opts.dynamic_batch else opts.batch, *chw)
    with torch.no_grad():
        n_outputs = len(tree_flatten(run_model(module, example))[0])
    names = ["output"] if n_outputs == 1 else [f"output{i}" for i in range(n_outputs)]
    with optimizing.recording() as fired:
        program = _export(module, example, opts, names)
    rewrites += optimizing.describe_translations(fired)
    export_seconds = time.perf_counter() - start
    with staging(path.parent) as stage:
        onnx_file = stage.file(path)
        data_file = stage.file(path.with_name(path.name + ".data"))
        external = _save(program, onnx_file, module)
        start = time.perf_counter()
        expected = ["batch" if opts.dynamic_batch else opts.batch, *chw]
        proto = check_structure(onnx_file, opts.opset, expected)
        results, agreement = _verify(onnx_file, model, chw, opts)
        report = _report(proto, path, onnx_file, results, folded, opts, model)
        report.agreement = agreement
        report.optimized, report.target, report.rewrites = opts.optimize is not None, opts.optimize, rewrites
        report.external_data = data_file.name if external else None
        report.export_seconds, report.verify_seconds = export_seconds, time.perf_counter() - start
        if opts.strict_trt and report.trt_findings:
            raise ExportError(f"--strict-trt: {len(report.trt_findings)} TensorRT findings, e.g. "
                              f"{report.trt_findings[0].op}: {report.trt_findings[0].message}")
        if report_path is not None:
            stage.file(report_path).write_text(report.to_json())
        stage.commit(opts.force, opts.inputs)
    return report


def _verify(onnx_file: Path, model: nn.Module, chw: tuple[int, ...],
            opts: _Options) -> tuple[list[ParityCheck], list[AgreementCheck]]:
    """Parity on random inputs at each declared batch, or parity and agreement on the labelled data."""
    truth = Truth(model)
    if opts.verify_data is not None:
        return verify_on_data(onnx_file, truth, opts.verify_data, opts.tolerance, opts.runtimes,
                              None if opts.dynamic_batch else opts.batch)
    shapes = [(b, *chw) for b in VERIFIED_BATCHES] if opts.dynamic_batch else [(opts.batch, *chw)]
    return parity(onnx_file, truth, shapes, opts.tolerance, opts.seed, opts.runtimes), []


def _report(proto: onnx.ModelProto, path: Path, staged: Path, results: list, folded: FoldResult | None,
            opts: _Options, model: nn.Module) -> ExportReport:
    graph_input = proto.graph.input[0]
    dims = [[d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in proto.graph.output]
    return ExportReport(
        path=str(path), opset=opts.opset, size_bytes=staged.stat().st_size,
        input_name=graph_input.name,
        input_dims=[d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim],
        output_dims=dims, op_histogram=op_histogram(proto), parity=results,
        tolerance=opts.tolerance, trt_findings=lint(proto),
        verified_on="random inputs" if opts.verify_data is None else opts.verify_data.name,
        folding=folded.actions if folded else [],
        fold_max_rel_error=folded.max_rel_error if folded else None,
        fold_check_dtype=folded.check_dtype if folded else None,
        source={"class": type(model).__name__, "recalib_spec": getattr(model, "recalib_spec", None),
                "seed": opts.seed, "dynamic_batch": opts.dynamic_batch, **opts.provenance})
