"""A graph's declared inputs, and the check every runner makes before running it.

Pure ONNX and numpy (no torch), so runtime worker processes can import it cheaply: a
224-pixel model fed 192 pixels fails with a clear :class:`ShapeError`, not a wrong answer.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import onnx

from recalib.errors import ConfigError, ShapeError
from recalib.infra.memory import MemoryEstimate, check_fits

__all__ = ["Run", "Opener", "Dims", "dims_of", "declared_inputs", "validate_inputs", "shape_text", "random_input"]

Run = Callable[[np.ndarray], list[np.ndarray]]
"""One inference on a runtime: an input batch to the graph's outputs."""
Opener = Callable[[Path], Run]
"""Loads an exported file on one runtime (``recalib.deploy.runner.opener`` makes one for each runtime)."""

Dims = list[Union[int, str]]  # a static size, or the name of a symbolic dim


def dims_of(value_info: onnx.ValueInfoProto) -> Dims:
    """The dims of a graph input or output: sizes, symbolic names, ``"?"`` where unknown."""
    return [d.dim_param or d.dim_value if d.HasField("dim_value") or d.dim_param else "?"
            for d in value_info.type.tensor_type.shape.dim]


def declared_inputs(source: Any) -> list[tuple[str, Dims]]:
    """``[(name, dims)]`` of a graph's inputs, from a path, a ModelProto or an ORT session."""
    if hasattr(source, "get_inputs"):
        return [(i.name, [d if isinstance(d, int) else str(d) for d in i.shape])
                for i in source.get_inputs()]
    model = source if isinstance(source, onnx.ModelProto) else onnx.load(str(source), load_external_data=False)
    init = {t.name for t in model.graph.initializer}
    return [(i.name, dims_of(i)) for i in model.graph.input if i.name not in init]


def shape_text(dims: Sequence[Any]) -> str:
    """``1x3x224x224``."""
    return "x".join(str(d) for d in dims)


def validate_inputs(declared: Sequence[tuple[str, Dims]], inputs: Mapping[str, Any]) -> None:
    """Raise :class:`ShapeError` unless every input matches its declared rank and static dims."""
    for name, dims in declared:
        if name not in inputs:
            raise ShapeError(f"the model needs input {name!r} ({shape_text(dims)}), got {sorted(inputs)}")
        shape = tuple(np.shape(inputs[name]))
        if len(shape) != len(dims):
            raise ShapeError(f"input {name!r}: model exported for rank {len(dims)} ({shape_text(dims)}), "
                             f"got shape {shape_text(shape)}")
        bad = [i for i, d in enumerate(dims) if isinstance(d, int) and d != shape[i]]
        if bad and bad != [0]:
            raise ShapeError(f"input {name!r}: model exported for {shape_text(dims[1:])}, got "
                             f"{shape_text(shape[1:])}; re-export at this size (recalib export "
                             f"--input-size H W) or resize the input")
        if bad:
            raise ShapeError(f"input {name!r}: model exported for batch {dims[0]}, got batch {shape[0]}; "
                             f"re-export with a dynamic batch (recalib export without --fixed-batch)")


def random_input(shape: tuple[int, ...], dtype: np.dtype | type = np.float32, seed: int = 0) -> np.ndarray:
    """A reproducible standard-normal input of ``shape``; one that cannot fit in memory is refused."""
    if any(int(d) < 1 for d in shape):
        raise ConfigError(f"input shape {tuple(shape)} has a dimension below 1; pass positive sizes")
    size = int(np.prod(shape, dtype=object)) * max(np.dtype(dtype).itemsize, 4)  # drawn in float32
    check_fits(MemoryEstimate(0, size, 0), f"an input of shape {shape_text(shape)}",
               "use a smaller batch or input size")
    return np.random.default_rng(seed).standard_normal(tuple(shape), dtype=np.float32).astype(dtype)
