"""``recalib optimize``: an ONNX file from any exporter, given a target's exact rewrites and verified
against itself, written whole or not at all.

Order of work: read and check the input (:func:`recalib.export.onnx_file.read_onnx`: missing,
empty, damaged or foreign-domain files are refused), its one ``(N, C, H, W)`` float input and the
output path (never over the input; an existing file only with ``force``), before anything slow;
run the target's graph pass (:func:`recalib.export.optimize.optimize_graph`); write the result into a
staging folder; judge it against the input graph (:class:`recalib.export.graph.truth.GraphTruth`,
the one parity definition) on random inputs at each batch an export is verified at (the graph's
own batch when it fixes one), or on labelled data; only then move it and its report
(``<stem>.report.json``, as an export's: ``recalib bench`` reads its input dims and parity) into place.
A result outside the bound is a :class:`~recalib.errors.VerificationError` and nothing is written.
"""
from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from pathlib import Path

import onnx
from onnxscript import ir

from recalib.errors import ConfigError, DataError
from recalib.export.agreement import AgreementCheck, verify_on_data
from recalib.export.graph.truth import GraphTruth
from recalib.export.inputs import Dims, declared_inputs, dims_of
from recalib.export.labelled import LabelledData
from recalib.export.onnx_file import read_onnx, write_graph
from recalib.export.optimize import optimize_graph
from recalib.export.optimize_report import OptimizeReport
from recalib.export.options import VERIFIED_BATCHES, OptimizeOptions
from recalib.export.parity import ParityCheck
from recalib.export.report import op_histogram
from recalib.export.verify import parity
from recalib.infra.atomic import check_destinations, file_path, staging
from recalib.infra.reading import file_sha256

__all__ = ["optimize_file", "input_chw", "graph_input", "verified_chw"]


def graph_input(model: onnx.ModelProto, path: Path) -> Dims:
    """The dims of ``model``'s one input, refused unless it is one float32 ``(N, C, H, W)`` tensor."""
    inputs = declared_inputs(model)
    if len(inputs) != 1:
        names = ", ".join(name for name, _ in inputs)
        raise ConfigError(f"{path} has {len(inputs)} inputs ({names}); recalib optimize verifies graphs with one "
                          f"image input, which it can feed random or labelled images")
    value = next(v for v in model.graph.input if v.name == inputs[0][0])
    dims = inputs[0][1]
    if value.type.tensor_type.elem_type != onnx.TensorProto.FLOAT or len(dims) != 4:
        raise ConfigError(f"{path}'s input {inputs[0][0]!r} is not a float32 (N, C, H, W) tensor (it is "
                          f"{onnx.TensorProto.DataType.Name(value.type.tensor_type.elem_type).lower()} of dims "
                          f"{dims}); recalib optimize verifies image models")
    return dims


def verified_chw(dims: Dims, input_size: tuple[int, int] | None, path: Path) -> tuple[int, int, int]:
    """``(C, H, W)`` of the inputs to verify on: the graph's own, ``input_size`` where H and W are dynamic."""
    channels, height, width = dims[1:]
    if not isinstance(channels, int):
        raise ConfigError(f"{path}'s input has a dynamic channel count ({dims}); give a graph with static channels")
    if isinstance(height, int) and isinstance(width, int):
        if input_size is not None and input_size != (height, width):
            raise ConfigError(f"{path} takes {height}x{width} images, not the --input-size {input_size[0]}x"
                              f"{input_size[1]} given; leave it out")
        return channels, height, width
    if input_size is None:
        raise ConfigError(f"{path}'s input has dynamic spatial dims ({dims}): give the size to verify at, "
                          f"e.g. --input-size 224 224 (input_size=(224, 224))")
    return channels, *input_size


def input_chw(source: str | Path, input_size: tuple[int, int] | None = None) -> tuple[int, int, int]:
    """The ``(C, H, W)`` the graph at ``source`` is verified at (labelled data must have that size),
    the file read and checked as :func:`optimize_file` checks it."""
    source = Path(source)
    return verified_chw(graph_input(read_onnx(source), source), input_size, source)


def _check_data(model: onnx.ModelProto, path: Path, data: LabelledData | None, chw: tuple[int, int, int]) -> None:
    """Labelled data that does not fit the graph (its size, a classifier's classes) is refused now."""
    if data is None:
        return
    outputs = [dims_of(o) for o in model.graph.output]
    if len(outputs) != 1 or len(outputs[0]) != 2:
        raise DataError(f"verifying on {data.name} needs a classifier with one (N, classes) output, but {path} "
                        f"has outputs {outputs}; verify it on random inputs instead")
    data.check_fits(chw)
    classes = outputs[0][1]
    if isinstance(classes, int):
        data.check_classes(classes)


def _verify(staged: Path, truth: GraphTruth, chw: tuple[int, int, int], options: OptimizeOptions,
            seed: int) -> tuple[list[ParityCheck], list[AgreementCheck]]:
    data = options.verification.data
    if data is not None:
        return verify_on_data(staged, truth, data, options.tolerance, options.verification.runtimes, truth.fixed_batch)
    batches: Sequence[int] = VERIFIED_BATCHES if truth.fixed_batch is None else (truth.fixed_batch,)
    return parity(staged, truth, [(b, *chw) for b in batches], options.tolerance, seed,
                  options.verification.runtimes), []


def optimize_file(source: str | Path, output: str | Path, options: OptimizeOptions = OptimizeOptions()) -> OptimizeReport:
    """Rewrite the graph at ``source`` for ``options.target`` into a verified graph at ``output``
    (see the module docstring); the report lists what fired, what was left as it was and why, and
    the parity checks, and is written beside ``output`` as ``<stem>.report.json``. Raises ConfigError /
    OutputError / DataError before any work, VerificationError when the result is outside the bound
    (nothing written)."""
    start, source = time.perf_counter(), Path(source)
    proto = read_onnx(source)
    dims = graph_input(proto, source)
    chw = verified_chw(dims, options.input_size, source)
    where = file_path(output)
    report_file = where.with_suffix(".report.json")
    check_destinations([where, report_file], options.force, [source])
    data = options.verification.data
    _check_data(proto, source, data, chw)
    model = ir.load(source)
    graph_pass = optimize_graph(model, options.target)
    seed = secrets.randbits(31) if options.seed is None else options.seed
    truth = GraphTruth(source, dims[0] if isinstance(dims[0], int) else None)
    with staging(where.parent) as stage:
        staged = stage.file(where)
        stage.file(where.with_name(where.name + ".data"))
        external = write_graph(model, staged)
        checks, agreement = _verify(staged, truth, chw, options, seed)
        report = OptimizeReport(
            source=str(source), path=str(where), target=options.target, input_dims=dims, graph_pass=graph_pass,
            ops_before=op_histogram(proto), ops_after=op_histogram(onnx.load(str(staged), load_external_data=False)),
            parity=checks, tolerance=options.tolerance, verified_on=options.verification.inputs,
            seed=seed if data is None else None, agreement=agreement,
            external_data=where.name + ".data" if external else None, seconds=time.perf_counter() - start,
            sha256=file_sha256(staged))
        stage.file(report_file).write_text(report.to_json())
        stage.commit(options.force, [source])
    return report
