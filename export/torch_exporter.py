"""torch's dynamo exporter, run quietly with our decompositions; its failures become recalib errors.

The exporter translates only what makes a graph runnable and exact (:mod:`recalib.export.decompose`);
the exact rewrites for a target runtime run afterwards on the exported graph, as the same pass a
file from any exporter gets (:func:`recalib.export.optimize.optimize_graph`).

The graph's outputs are named after export from the program itself (``output``, or ``output0``,
``output1``, … when there are several), so no forward pass is spent only to count them.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator

import torch
from torch import nn

from recalib.errors import ExportError, RecalibError, first_line
from recalib.export.decompose import translation_table
from recalib.export.options import ExportOptions
from recalib.folding import run_model

__all__ = ["export_program"]


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


def export_program(module: nn.Module, example: torch.Tensor, options: ExportOptions) -> torch.onnx.ONNXProgram:
    """``module`` traced on ``example`` by torch's dynamo exporter with our decompositions, its outputs
    named; errors become recalib errors."""
    dynamic = ({0: torch.export.Dim("batch", min=1)},) if options.dynamic_batch else None
    try:
        with _quiet():
            program = torch.onnx.export(module, (example,), None, dynamo=True, opset_version=options.opset,
                                        dynamic_shapes=dynamic, input_names=["input"], verbose=False,
                                        custom_translation_table=translation_table())
    except Exception as exc:
        cause = _recalib_cause(exc)
        if cause is not None:
            raise cause from exc
        with torch.no_grad():
            run_model(module, example)  # a model that fails on this input says so with a ShapeError
        raise ExportError(f"torch.onnx.export failed: {first_line(exc)}") from exc
    if program is None:  # only when given a file name, which we never pass
        raise ExportError("torch.onnx.export returned no program")
    outputs = program.model.graph.outputs
    for index, value in enumerate(outputs):
        value.name = "output" if len(outputs) == 1 else f"output{index}"
    return program
