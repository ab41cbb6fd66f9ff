"""``to_onnx``: one verified, self-contained, standard-ops ONNX file per call, or an error.

Order of work: validate the request (the :class:`~recalib.export.options.ExportOptions` when made;
shape, weights and destination here) before anything slow; fold; optimize (exact inference
rewrites of recalib's blocks, :mod:`recalib.export.optimize`); export with torch's dynamo exporter
and our exact decompositions (:mod:`recalib.export.torch_exporter`); run the graph pass of the
target's exact rewrites on the exported graph (the one ``recalib optimize`` runs); write into a staging
folder; check structure, opset, domains and input dims; compare onnxruntime with the original
PyTorch model; lint for TensorRT; only then move the files into place.

:func:`export_model` is that pipeline for a model already checked, whose fold and float64 truth
come from a :class:`~recalib.export.derived.Derived`: :mod:`recalib.export.prepare` exports through it,
so every export of one model shares one fold and one float64 copy.
"""
from __future__ import annotations

import numbers
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import onnx
import torch
from torch import nn

from recalib.errors import ConfigError, ExportError
from recalib.export import optimize as optimizing
from recalib.export.agreement import AgreementCheck, num_classes, verify_on_data
from recalib.export.derived import Derived
from recalib.export.options import ExportOptions, Verification
from recalib.export.quantize.int8_export import quantize_export
from recalib.export.parity import INT8, PRECISIONS, AtPrecision, ParityCheck, Remembered, TruthSource
from recalib.export.onnx_file import write_graph
from recalib.export.report import ExportReport, op_histogram
from recalib.export.torch_exporter import export_program
from recalib.export.trt_lint import lint
from recalib.export.verify import check_structure, parity
from recalib.folding import FoldResult
from recalib.infra.atomic import check_destinations, file_path, staging
from recalib.infra.reading import file_sha256

__all__ = ["to_onnx", "export_model", "check_weights", "destination", "Destination"]


def _is_size(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _input_chw(input_shape: Sequence[int], fixed_batch: int | None) -> tuple[int, ...]:
    """``(C, H, W)`` from ``(C, H, W)`` or ``(N, C, H, W)`` of integers (N: the fixed batch, if one is set)."""
    if isinstance(input_shape, (torch.Tensor, str, bytes)) or not isinstance(input_shape, Sequence):
        given = f"a tensor of shape {tuple(input_shape.shape)}" if isinstance(input_shape, torch.Tensor) else (
            repr(input_shape))
        raise ConfigError(f"input_shape must be a shape such as (3, 224, 224), not {given}; for an example "
                          f"tensor x pass tuple(x.shape)")
    if not all(_is_size(d) for d in input_shape):
        raise ConfigError(f"input_shape must hold whole numbers, got {tuple(input_shape)}; sizes are not "
                          f"rounded for you")
    shape = tuple(int(d) for d in input_shape)
    if len(shape) not in (3, 4) or min(shape) < 1:
        raise ConfigError(f"input_shape must be (C, H, W) or (N, C, H, W) of positive sizes, got {shape}")
    if len(shape) == 4 and fixed_batch not in (None, shape[0]):
        raise ConfigError(f"input_shape {shape} has batch {shape[0]}, but the export is for fixed batch "
                          f"{fixed_batch}; give (C, H, W), or the same batch")
    return shape[-3:]


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


@dataclass(frozen=True)
class Destination:
    """Where an export is written: the file, its report (None: none written), and the files it must
    never replace (the model's own inputs, such as its checkpoint)."""

    file: Path
    report: Path | None
    inputs: tuple[Path, ...] = ()


def destination(path: str | Path, options: ExportOptions, inputs: Sequence[Path] = ()) -> Destination:
    """``path`` (and its report, when written) checked as an export's destination: refused now, before
    any work, when it exists (without ``options.force``), cannot be written, or is one of ``inputs``."""
    file = file_path(path)
    report = file.with_suffix(".report.json") if options.write_report else None
    check_destinations([file] if report is None else [file, report], options.force, inputs)
    return Destination(file, report, tuple(inputs))


def to_onnx(model: nn.Module, input_shape: Sequence[int], path: str | Path,
            options: ExportOptions = ExportOptions()) -> ExportReport:
    """Export ``model`` (one ``(N, C, H, W)`` float32 input) to a verified ONNX file at ``path``.

    ``input_shape`` is ``(C, H, W)`` (or ``(N, C, H, W)``); H and W are static, the batch is
    symbolic unless ``options.fixed_batch``. ``options`` (:class:`~recalib.export.options.ExportOptions`)
    say how: fold, the exact inference rewrites for a target runtime (listed in the report's
    ``rewrites``; the report records the ``target``), opset, tolerance, what to verify on
    (``options.verification``: fresh random inputs or labelled data, onnxruntime CPU or named
    runtimes), and whether to write ``<stem>.report.json``. The report holds the parity errors,
    op histogram and TensorRT findings. Raises ExportError / VerificationError / ShapeError /
    DataError; on any error no file is left behind, and existing files are replaced only with
    ``options.force``.
    """
    chw = _input_chw(input_shape, options.fixed_batch)
    check_weights(model)
    # A model loaded from a checkpoint must not be exported over that checkpoint, even with force.
    inputs = [Path(p) for p in [getattr(model, "recalib_checkpoint", None)] if p]
    return export_model(model, chw, destination(path, options, inputs), options, Derived(model, chw))


def export_model(model: nn.Module, chw: Sequence[int], where: Destination, options: ExportOptions,
                 derived: Derived, provenance: Mapping[str, Any] | None = None) -> ExportReport:
    """:func:`to_onnx`'s pipeline for a model whose weights and destination were checked: ``derived``
    holds its fold and float64 truth (shared with its other exports); ``provenance`` (where the
    weights came from) is recorded in the report's ``source``."""
    record = getattr(model, "recalib_record", None)  # the ModelRecord create_model leaves on its models
    source = {"class": type(model).__name__, "recalib_spec": None if record is None else record.to_json(),
              "seed": secrets.randbits(31) if options.seed is None else options.seed,
              "dynamic_batch": options.dynamic_batch, **(provenance or {})}
    was_training = model.training
    model.eval()
    try:
        if options.precision in PRECISIONS and options.precision != "fp32" and options.verification.runtimes is None:
            raise ConfigError(f"onnxruntime CPU, which verifies an export by default, computes in fp32 and int8; "
                              f"verify a {options.precision} export on a runtime that computes in it (--runtime "
                              f"{'openvino-cpu' if options.precision == 'bf16' else 'tensorrt or ort-tensorrt'})")
        data = options.verification.data
        if data is not None:  # before the slow export: data that does not fit fails now
            data.check_fits(tuple(chw)).check_classes(num_classes(model, data))
        return _run(model, tuple(chw), where, options, derived, source)
    finally:
        model.train(was_training)


def _run(model: nn.Module, chw: tuple[int, ...], where: Destination, options: ExportOptions, derived: Derived,
         source: dict[str, Any]) -> ExportReport:
    """The export pipeline proper (see the module docstring for the order of work); ``source`` is the
    report's, and its ``seed`` draws the check inputs."""
    start = time.perf_counter()
    folded = derived.folded() if options.fold else None
    optimized = optimizing.optimize_model(folded.model if folded else model, options.optimize)
    # A dynamic batch is traced at 2: torch.export specialises example sizes 0 and 1.
    example = torch.randn(2 if options.fixed_batch is None else options.fixed_batch, *chw)
    program = export_program(optimized.model, example, options)
    graph_pass = optimizing.optimize_graph(program.model, options.target) if options.target else None
    rewrites = optimized.actions + (graph_pass.fired() if graph_pass else [])
    export_seconds = time.perf_counter() - start
    int8 = options.precision == INT8
    with staging(where.file.parent) as stage:
        onnx_file = stage.file(where.file)
        # int8: the float32 graph is verified in the staging folder and never placed; its QDQ form takes its name
        float_file = stage.root / f"float32-{where.file.name}" if int8 else onnx_file
        data_file = stage.file(where.file.with_name(where.file.name + ".data"))
        external = write_graph(program.model, float_file)
        start = time.perf_counter()
        batch: int | str = "batch" if options.fixed_batch is None else options.fixed_batch
        proto = check_structure(float_file, options.opset, [batch, *chw])
        float_options = replace(options, verification=Verification(options.verification.data)) if int8 else options
        truth = Remembered(derived.truth)
        results, agreement = _verify(float_file, chw, float_options, _truth(model, truth, options), source["seed"])
        if int8:
            quantized = quantize_export(float_file, onnx_file, options)
            proto = check_structure(onnx_file, options.opset, [batch, *chw])
            more, int8_agreement = _verify(onnx_file, chw, options, AtPrecision(truth, model, INT8), source["seed"])
            results, agreement = results + more, agreement + int8_agreement
        report = _report(proto, where.file, onnx_file, results, folded, options, source)
        report.agreement, report.precision = agreement, options.precision
        report.quantization = quantized.record if int8 else {}
        report.optimized, report.target, report.rewrites = options.target is not None, options.target, rewrites
        report.rewrites_left_as_is = graph_pass.left_as_is() if graph_pass else []
        report.external_data = data_file.name if external else None
        report.export_seconds, report.verify_seconds = export_seconds, time.perf_counter() - start
        report.sha256 = file_sha256(onnx_file)
        if options.strict_trt and report.trt_findings:
            raise ExportError(f"--strict-trt: {len(report.trt_findings)} TensorRT findings, e.g. "
                              f"{report.trt_findings[0].op}: {report.trt_findings[0].message}")
        if where.report is not None:
            stage.file(where.report).write_text(report.to_json())
        stage.commit(options.force, where.inputs)
    return report


def _truth(model: nn.Module, truth: TruthSource, options: ExportOptions) -> TruthSource:
    """What the float graph's runtimes are judged against: the float64 truth, with PyTorch's own error in the
    float precision they compute in as the yardstick (:func:`recalib.export.parity.at_precision`; an int8
    export's float32 graph is judged at float32)."""
    return truth if options.precision in ("fp32", INT8) else AtPrecision(truth, model, options.precision)


def _verify(onnx_file: Path, chw: tuple[int, ...], options: ExportOptions, truth: TruthSource,
            seed: int) -> tuple[list[ParityCheck], list[AgreementCheck]]:
    """Parity on random inputs at each verified batch, or parity and agreement on the labelled data."""
    verification = options.verification
    if verification.data is not None:
        return verify_on_data(onnx_file, truth, verification.data, options.tolerance, verification.runtimes,
                              options.fixed_batch)
    shapes = [(batch, *chw) for batch in options.verified_batches]
    return parity(onnx_file, truth, shapes, options.tolerance, seed, verification.runtimes), []


def _report(proto: onnx.ModelProto, path: Path, staged: Path, results: list, folded: FoldResult | None,
            options: ExportOptions, source: dict[str, Any]) -> ExportReport:
    graph_input = proto.graph.input[0]
    dims = [[d.dim_param or d.dim_value for d in o.type.tensor_type.shape.dim] for o in proto.graph.output]
    return ExportReport(
        path=str(path), opset=options.opset, size_bytes=staged.stat().st_size,
        input_name=graph_input.name,
        input_dims=[d.dim_param or d.dim_value for d in graph_input.type.tensor_type.shape.dim],
        output_dims=dims, op_histogram=op_histogram(proto), parity=results,
        tolerance=options.tolerance, trt_findings=lint(proto), verified_on=options.verification.inputs,
        folding=folded.actions if folded else [],
        fold_max_rel_error=folded.max_rel_error if folded else None,
        fold_check_dtype=folded.check_dtype if folded else None,
        source=source)
