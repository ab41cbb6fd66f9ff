"""Exact rewrites that make exported recalibration blocks cost what they should on a target runtime.

``ExportOptions(optimize=True)`` (the default; ``recalib export --no-optimize`` turns it
off) applies two kinds of rewrite, each the same function up to float32 rounding, checked by
the export's parity test against the original PyTorch model:

* **Module rewrites** (:func:`optimize_model`, after folding): a block with a cheaper exact
  inference form is replaced by it, built from the block's own modules
  (:mod:`recalib.export.rewrites.ms_sar`: regional MS-SAR pools once and gates at low resolution;
  :mod:`recalib.export.rewrites.contextual`: a CC-block picks its grid statically and renders its map
  with batched products).
* **Layout translations** (:func:`translation_table`, during export;
  :mod:`recalib.export.rewrites.layout`): spatial means and integer nearest resizes are emitted as
  the ops onnxruntime keeps in its blocked NCHWc layout, so a low-resolution gate no longer
  forces layout copies around its block.

The rewrites were tuned for one runtime at a time, so an export names its **target**
(:data:`TARGETS`; ``optimize=True`` means :data:`DEFAULT_TARGET`, ``optimize="openvino"``
another), recorded in the export report; :func:`target_for_runtime` says which suits a
runtime. ``onnxruntime`` (CPU provider, the latency audit's reference) gets every rewrite as
described. ``openvino`` (the CPU plugin, which runs the whole net channels-last and fuses
elementwise chains, a gate's broadcast ``Mul`` with the residual ``Add`` and ``Relu``
included, into one pass) gets the same layout translations and the module rewrites in the
forms its executed graph prefers: MS-SAR's mean as a ``Mul`` that fuses into the product's
pass (not a depthwise conv, a second pass), and the CC map never materialised, with no
``Gather``, ``MatMul`` or layout conversion (:mod:`recalib.export.rewrites.contextual`). Being exact,
every target's export computes the same function on every runtime; only speed differs.

Measured and left out: averaging a bottleneck's ``conv3`` input instead of its output
(``avg(A·h + b) = A·avg(h) + b``, so SE, GE-θ⁻ and regional MS-SAR squeeze a quarter of the
channels). ResNet-50 at 224, 2 threads, paired rounds: at batch 1 it costs on both runtimes
(OpenVINO: SE +0.9%, GE-θ⁻ e=8 +1.0%, MS-SAR r=16 +2.5%; onnxruntime within ±1%, MS-SAR +1.3%),
at batch 8 it saves at most ~1% (OpenVINO SE -1.4%, GE-θ⁻ -1.1%; onnxruntime GE-θ⁻ -0.8%); an
export serves every batch, so no target gains. The squeeze it saves is about what the extra
1×1 conv on the pooled map costs.
"""
from __future__ import annotations

import contextlib
import copy
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from torch import nn

from recalib.export.decompose import translation_table as decompositions
from recalib.export.rewrites import DEFAULT_TARGET, TARGETS, check_target, contextual, layout, ms_sar

__all__ = ["OptimizeResult", "optimize_model", "translation_table", "recording", "describe_translations",
           "TARGETS", "DEFAULT_TARGET", "check_target", "target_for_runtime", "export_target",
           "same_for_every_target"]

# runtime backend -> the target its exports are optimised for (TensorRT reads ONNX like onnxruntime)
_RUNTIME_TARGETS = {"openvino-cpu": "openvino"}

# name, what it does, whether it applies to a module, the inference form built from it for a target
_MODULE_REWRITES: list[tuple[str, str, Callable[[nn.Module], bool], Callable[..., nn.Module]]] = [
    ("ms-sar-low-res", "regional MS-SAR pools once, averages its gates at K*xK* and spreads once",
     ms_sar.applies, ms_sar.RegionalMSSARInference),
    ("cc-grid-picks", "CC-block: static grid picks, grid layer as depthwise convs; onnxruntime: bilinear "
                      "EMP as MatMuls, the map as one product; openvino: x times each profile, fused",
     contextual.applies, contextual.ContextualConvInference),
]


def target_for_runtime(runtime: str) -> str:
    """The export target that suits a runtime backend (``openvino-cpu`` -> ``openvino``)."""
    return _RUNTIME_TARGETS.get(runtime, DEFAULT_TARGET)


def export_target(optimize: bool | str, runtime: str | None = None) -> str | None:
    """The target of the export ``runtime`` times: ``optimize=True`` means each runtime's own
    (:func:`target_for_runtime`; :data:`DEFAULT_TARGET` when no runtime is named), a target's
    name that target for every runtime, ``False`` the plain export (None)."""
    if optimize is True and runtime is not None:
        return target_for_runtime(runtime)
    return check_target(optimize)


def same_for_every_target(model: nn.Module) -> bool:
    """Whether every target's export of ``model`` is the same graph: no block in it has a
    target-specific inference form, and the targets' translations coincide."""
    tables = [translation_table(target) for target in TARGETS]
    if any(table != tables[0] for table in tables[1:]):
        return False
    return not any(applies(module) for module in model.modules() for _, _, applies, _ in _MODULE_REWRITES)


@dataclass
class OptimizeResult:
    """The rewritten model and one line per rewrite."""

    model: nn.Module
    actions: list[str] = field(default_factory=list)


def _rewrite(module: nn.Module, target: str) -> tuple[nn.Module, str] | None:
    """The inference form of ``module`` for ``target`` and the rewrite's name, if one applies."""
    for name, what, applies, build in _MODULE_REWRITES:
        if applies(module):
            return build(module, target), f"{name} ({what})"
    return None


def optimize_model(model: nn.Module, target: bool | str = DEFAULT_TARGET) -> OptimizeResult:
    """``model`` with every block that has an exact inference form replaced by its ``target`` form;
    ``model`` itself is left as it is. ``target`` as :func:`check_target` reads it (``False``: no change).

    Blocks are found by type wherever they sit (also the root). Nothing is deep-copied: the
    modules on the path from the root to a replaced block are shallow copies with their own
    child lists, every other module (and every weight) is shared with ``model``, and each
    replacement keeps its block as a submodule. So one folded model serves every target's export.
    """
    form = check_target(target)
    result = OptimizeResult(model)
    if form is not None:
        result.model = _rebuilt(model, form, "", result.actions, {})
    return result


def _rebuilt(module: nn.Module, form: str, name: str, actions: list[str], done: dict[int, nn.Module]) -> nn.Module:
    """``module`` with its rewritable blocks replaced (``name`` is its path, ``done`` the modules
    already rebuilt, so a shared module stays shared); ``module`` itself when nothing changed."""
    if id(module) in done:
        return done[id(module)]
    found = _rewrite(module, form)
    if found is not None:
        actions.append(f"{name or '<model>'}: {found[1]}")
        done[id(module)] = found[0]
        return found[0]
    changed = {}
    for key, child in module._modules.items():
        new = None if child is None else _rebuilt(child, form, f"{name}.{key}" if name else key, actions, done)
        if new is not child:
            changed[key] = new
    rebuilt = module
    if changed:
        rebuilt = copy.copy(module)
        rebuilt._modules = {**module._modules, **changed}
    done[id(module)] = rebuilt
    return rebuilt


def translation_table(target: str = DEFAULT_TARGET) -> dict[Callable, Callable]:
    """The exporter's translations for ``target``: the layout rewrites over :mod:`recalib.export.decompose`'s.

    Both targets take them: on OpenVINO, ``GlobalAveragePool`` runs as the same ``Reduce`` as
    ``ReduceMean``, and an integer-scale ``Resize`` drops the ``Shape`` chain that computes sizes.
    """
    check_target(target)
    return {**decompositions(), **layout.translation_table()}


@contextlib.contextmanager
def recording() -> Iterator[Counter]:
    """Count, by rewrite name, the layout translations that fire while exporting inside the block."""
    with layout.recording() as fired:
        yield fired


def describe_translations(fired: Counter) -> list[str]:
    """One report line per layout rewrite that fired: name, count, what it does."""
    return [f"{name} x{count}: {layout.REWRITES[name]}" for name, count in sorted(fired.items())]
