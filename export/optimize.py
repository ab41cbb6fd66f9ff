"""Exact rewrites that make recalibration gates cost what they should on a target runtime.

Two kinds of rewrite, each the same function up to float32 rounding:

* **Graph rewrites** (:data:`GRAPH_REWRITES`, one module each under :mod:`recalib.export.rewrites`,
  run by :func:`optimize_graph`): an ONNX-to-ONNX pass that works on any graph, whoever exported
  it. ``recalib optimize IN.onnx -o OUT.onnx`` (:mod:`recalib.export.optimize_file`) applies it to a
  file and verifies OUT against IN; ``to_onnx`` with ``ExportOptions(optimize=...)`` exports, then
  runs the same pass on the exported graph, so each rewrite has one implementation. Two are
  layout rewrites: a spatial mean as ``GlobalAveragePool``
  (:mod:`~recalib.export.rewrites.global_average_pool`) and an integer nearest upsample with
  constant scales (:mod:`~recalib.export.rewrites.integer_resize`); one is onnxruntime's only, a
  gate folded into the 1×1 projection's weights where the map is large
  (:mod:`~recalib.export.rewrites.gate_in_weights`, the mobile networks' pattern).
* **Module rewrites** (:func:`optimize_model`, after folding, before export): a block of recalib's
  own with a cheaper exact inference form is replaced by it, built from the block's own modules
  (:mod:`recalib.export.rewrites.ms_sar`: regional MS-SAR pools once and gates at low resolution;
  :mod:`recalib.export.rewrites.contextual`: a CC-block picks its grid statically and renders its
  map with batched products). They stay module rewrites: they need the block's structure (its
  regions, its grid), which a graph no longer shows.

Why layout: onnxruntime's CPU provider (level ``ORT_ENABLE_ALL``) rewrites convolutions to a
blocked channel layout (NCHWc, 8 or 16 channels per block) and fuses ``Conv + Add + Relu``. A
node it cannot run in that layout forces layout conversions (``ReorderOutput``/``ReorderInput``,
a full copy of the tensor each) on every edge into and out of it, and breaks the fusion. From
``nchwc_transformer.cc`` (onnxruntime 1.31), the ops that stay in the layout are: Conv, MaxPool,
AveragePool, GlobalAveragePool/GlobalMaxPool (when their input already is), Relu/Sigmoid/Tanh,
BatchNormalization, channel Concat, nearest ``Resize`` with constant *integer scales* (not
``sizes``), and Add/Sum/Mul whose inputs all have the *same* shape. So ``ReduceMean``, a
broadcasting ``Mul`` (``x * gate``, gate ``(N, C, 1, 1)``) and ``Resize`` with explicit sizes each
leave the layout. A ``(N, C, 1, 1)`` gate (SE, global GE) is left as a broadcasting ``Mul``, layout
copies and all: expanding it by a ``Resize(scales=[1, 1, H, W])`` removed the copies (67 -> 1 in
SE-ResNet-50) but measured slower, as onnxruntime runs the blocked ``Upsample`` on one thread and
the copies it saves run on all of them (ResNet-50 + SE at 224, 2 threads, same run: +20.6/+21.8%
expanded vs +18.7/+20.9% broadcast at batch 1, +24.7% vs +21.4% at batch 8).

The rewrites were tuned for one runtime at a time, so an export names its **target**
(:data:`TARGETS`; ``optimize=True`` means :data:`DEFAULT_TARGET`, ``optimize="openvino"``
another), recorded in the export report; :func:`target_for_runtime` says which suits a
runtime. ``onnxruntime`` (CPU provider, the latency audit's reference) gets every rewrite as
described. ``openvino`` (the CPU plugin, which runs the whole net channels-last and fuses
elementwise chains, a gate's broadcast ``Mul`` with the residual ``Add`` and ``Relu``
included, into one pass) gets the same graph rewrites (``GlobalAveragePool`` runs as the same
``Reduce`` as ``ReduceMean``, and an integer-scale ``Resize`` drops the ``Shape`` chain that
computes sizes) and the module rewrites in the forms its executed graph prefers: MS-SAR's mean
as a ``Mul`` that fuses into the product's pass (not a depthwise conv, a second pass), and the CC
map never materialised, with no ``Gather``, ``MatMul`` or layout conversion
(:mod:`recalib.export.rewrites.contextual`). Being exact, every target's export computes the same
function on every runtime; only speed differs.

Measured and left out: averaging a bottleneck's ``conv3`` input instead of its output
(``avg(A·h + b) = A·avg(h) + b``, so SE, GE-θ⁻ and regional MS-SAR squeeze a quarter of the
channels). ResNet-50 at 224, 2 threads, paired rounds: at batch 1 it costs on both runtimes
(OpenVINO: SE +0.9%, GE-θ⁻ e=8 +1.0%, MS-SAR r=16 +2.5%; onnxruntime within ±1%, MS-SAR +1.3%),
at batch 8 it saves at most ~1% (OpenVINO SE -1.4%, GE-θ⁻ -1.1%; onnxruntime GE-θ⁻ -0.8%); an
export serves every batch, so no target gains. The squeeze it saves is about what the extra
1×1 conv on the pooled map costs.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

from onnxscript import ir
from torch import nn

from recalib.export.graph.passes import PassReport, run_rewrites
from recalib.export.graph.rewrite import GraphRewrite
from recalib.export.rewrites import DEFAULT_TARGET, TARGETS, check_target, contextual, gate_in_weights
from recalib.export.rewrites import global_average_pool, integer_resize, ms_sar

__all__ = ["OptimizeResult", "optimize_model", "optimize_graph", "graph_rewrites", "GRAPH_REWRITES",
           "TARGETS", "DEFAULT_TARGET", "check_target", "target_for_runtime", "export_target",
           "same_for_every_target"]

GRAPH_REWRITES: tuple[GraphRewrite, ...] = (global_average_pool.REWRITE, integer_resize.REWRITE,
                                             gate_in_weights.REWRITE)
"""Every exact graph rewrite, in the order the pass offers them each node; each names its targets."""

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
    target-specific inference form, and the targets' graph rewrites coincide."""
    forms = [graph_rewrites(target) for target in TARGETS]
    if any(form != forms[0] for form in forms[1:]):
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


def graph_rewrites(target: str = DEFAULT_TARGET) -> tuple[GraphRewrite, ...]:
    """The graph rewrites that serve ``target``, in :data:`GRAPH_REWRITES`'s order."""
    check_target(target)
    return tuple(rewrite for rewrite in GRAPH_REWRITES if target in rewrite.targets)


def optimize_graph(model: ir.Model, target: str = DEFAULT_TARGET) -> PassReport:
    """Apply ``target``'s graph rewrites to ``model`` in place; the report lists what fired and
    what was left as it was (:mod:`recalib.export.graph.passes`)."""
    return run_rewrites(model, graph_rewrites(target))
