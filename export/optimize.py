"""Exact rewrites that make exported recalibration blocks cost what they should on onnxruntime CPU.

``export.to_onnx(..., optimize=True)`` (the default; ``recalib export --no-optimize`` turns it
off) applies two kinds of rewrite, each the same function up to float32 rounding, checked by
the export's parity test against the original PyTorch model:

* **Module rewrites** (:func:`optimize_model`, after folding): a block with a cheaper exact
  inference form is replaced by it, built from the block's own modules
  (:mod:`export.rewrites.ms_sar`: regional MS-SAR pools once and gates at low resolution;
  :mod:`export.rewrites.contextual`: a CC-block picks its grid statically and renders its map
  with batched products).
* **Layout translations** (:func:`translation_table`, during export;
  :mod:`export.rewrites.layout`): spatial means and integer nearest resizes are emitted as
  the ops onnxruntime keeps in its blocked NCHWc layout, so a low-resolution gate no longer
  forces layout copies around its block.

Both target onnxruntime's CPU provider, which the latency audit measures. Being exact, they
give other runtimes (TensorRT) the same function; export with ``optimize=False`` where a
rewrite measures slower there.
"""
from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from torch import nn

from export.decompose import translation_table as decompositions
from export.rewrites import contextual, layout, ms_sar

__all__ = ["OptimizeResult", "optimize_model", "translation_table", "recording", "describe_translations"]

# name, what it does, whether it applies to a module, the inference form built from it
_MODULE_REWRITES: list[tuple[str, str, Callable[[nn.Module], bool], Callable[..., nn.Module]]] = [
    ("ms-sar-low-res", "regional MS-SAR pools once, averages its gates at K*xK* and spreads once",
     ms_sar.applies, ms_sar.RegionalMSSARInference),
    ("cc-grid-picks", "CC-block: static grid picks, grid layer as depthwise convs, bilinear EMP as "
                      "MatMuls, the map as one product",
     contextual.applies, contextual.ContextualConvInference),
]


@dataclass
class OptimizeResult:
    """The rewritten model (the same object, changed in place) and one line per rewrite."""

    model: nn.Module
    actions: list[str] = field(default_factory=list)


def _rewrite(module: nn.Module) -> tuple[nn.Module, str] | None:
    """The inference form of ``module`` and the rewrite's name, if one applies."""
    for name, what, applies, build in _MODULE_REWRITES:
        if applies(module):
            return build(module), f"{name} ({what})"
    return None


def optimize_model(model: nn.Module) -> OptimizeResult:
    """Replace every block that has an exact inference form by it, in place; ``model`` must be a copy.

    Blocks are found by type wherever they sit (also the root); the replacement keeps the
    block as a submodule, so weights are shared, never copied.
    """
    root = _rewrite(model)
    if root is not None:
        return OptimizeResult(root[0], [f"<model>: {root[1]}"])
    result = OptimizeResult(model)
    for parent_name, parent in list(model.named_modules()):
        for name, child in list(parent.named_children()):
            found = _rewrite(child)
            if found is not None:
                setattr(parent, name, found[0])
                result.actions.append(f"{parent_name + '.' if parent_name else ''}{name}: {found[1]}")
    return result


def translation_table() -> dict[Callable, Callable]:
    """The exporter's translations with the layout rewrites over :mod:`export.decompose`'s."""
    return {**decompositions(), **layout.translation_table()}


@contextlib.contextmanager
def recording() -> Iterator[Counter]:
    """Count, by rewrite name, the layout translations that fire while exporting inside the block."""
    with layout.recording() as fired:
        yield fired


def describe_translations(fired: Counter) -> list[str]:
    """One report line per layout rewrite that fired: name, count, what it does."""
    return [f"{name} x{count}: {layout.REWRITES[name]}" for name, count in sorted(fired.items())]
