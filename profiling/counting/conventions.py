"""Named counting conventions, build readings and paper presets.

"FLOPs" is not one number. Papers count multiply-adds once (``mac``) or twice (``flop``), count
or skip batch norm, pooling and element-wise work, and measure ResNets with the stride in the
3×3 conv (torchvision) or in the first 1×1 conv (the original Caffe models). Each choice here
has a name, so every figure this package prints says how it was counted.

* A :class:`Convention` weighs the per-category counts of one trace (see
  :mod:`recalib.profiling.counting.handles` for the FLOP categories and :mod:`recalib.profiling.counting.counts` for the
  parameter categories); switching convention never re-traces the model.
* A :class:`Modifier` adjusts a FLOP convention inside one scope of the model
  (:mod:`recalib.profiling.counting.scopes`): ``+gates`` also counts the element-wise products inside the
  recalibration blocks (the gate applied to the map, Caffe's Scale/Axpy layer),
  ``+skip-transitions`` leaves DenseNet's transition layers out. ``mac+gates`` is ``mac`` with
  the ``gates`` modifier; :func:`get_convention` and :func:`conventions_for` know every such name.
* A :class:`Reading` is a way to build the architecture a paper names (a layout option such
  as ``stride_in_1x1=True``); it needs its own build.
* A :class:`Preset` pairs a convention with a reading to reproduce how one paper counted.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from recalib.errors import UnknownNameError

__all__ = ["Convention", "Modifier", "Reading", "Preset", "CONVENTIONS", "MODIFIERS", "READINGS", "PRESETS",
           "get_convention", "resolve", "conventions_for", "DEFAULT_CONVENTION"]


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Convention:
    """A weight per count category; the total is ``sum(weight × count)``.

    ``metric`` is ``"flops"`` (categories of :data:`recalib.profiling.counting.handles.CATEGORIES`) or
    ``"params"`` (``weight``, ``bias``, ``norm``, ``other``, ``norm_stats``).
    """

    name: str
    metric: str
    weights: Mapping[str, float]
    summary: str

    def apply(self, counts: Mapping[str, float]) -> float:
        """Total of ``counts`` under this convention (categories it does not weigh count zero)."""
        return float(sum(self.weights.get(cat, 0.0) * n for cat, n in counts.items()))


@dataclass(frozen=True)
class Modifier:
    """An adjustment of a FLOP convention inside one scope, named after what it counts.

    ``extra`` are weights added for scoped categories (``"blocks.eltwise": 1``); with
    ``skip`` the scope's work is subtracted at the base convention's own weights. A modifier
    that would count something the base already counts (``requires_zero``) does not apply.
    """

    name: str
    summary: str
    extra: Mapping[str, float] = field(default_factory=dict)
    skip: str | None = None
    requires_zero: tuple[str, ...] = ()

    def applies(self, base: Convention) -> bool:
        return base.metric == "flops" and all(base.weights.get(cat, 0.0) == 0.0 for cat in self.requires_zero)

    def apply(self, base: Convention) -> Convention:
        """``base`` with this modifier: named ``base+name``."""
        weights = {**base.weights, **self.extra}
        if self.skip is not None:
            weights.update({f"{self.skip}.{cat}": -w for cat, w in base.weights.items() if "." not in cat})
        return Convention(f"{base.name}+{self.name}", base.metric, _frozen(weights),
                          f"{base.summary}; {self.summary}")


@dataclass(frozen=True)
class Reading:
    """A named way of building a paper's architecture: build options layered on the default."""

    name: str
    options: Mapping[str, Any] = field(default_factory=dict)
    summary: str = ""


@dataclass(frozen=True)
class Preset:
    """How one paper counted: a convention and the reading (layout) it measured."""

    name: str
    paper: str
    convention: str
    reading: Reading
    summary: str


_CORE = {"conv": 1.0, "fc": 1.0, "fixed": 1.0}
_EVERYTHING = {**_CORE, "bn": 1.0, "norm": 1.0, "pool": 1.0, "act": 1.0, "eltwise": 1.0, "resize": 1.0}

CONVENTIONS: Mapping[str, Convention] = _frozen({c.name: c for c in (
    Convention("mac", "flops", _frozen(_CORE),
               "one per multiply-add of convolutions, linear layers and matrix products; nothing "
               "else (fvcore's core, the usual paper 'FLOPs')"),
    Convention("flop", "flops", _frozen({k: 2.0 for k in _CORE}),
               "two per multiply-add of convolutions, linear layers and matrix products "
               "(torch.utils.flop_counter)"),
    Convention("mac-learned", "flops", _frozen({"conv": 1.0, "fc": 1.0}),
               "multiply-adds of learned layers only: mac without products with fixed matrices "
               "(pooling or resizing written as x @ A)"),
    Convention("mac-inference", "flops", _frozen({**_EVERYTHING, "bn": 0.0, "norm": 0.0}),
               "multiply-adds once plus one per element of pooling, activations, arithmetic and "
               "resize taps; batch norm free because it folds into the preceding conv"),
    Convention("mac-all", "flops", _frozen(_EVERYTHING),
               "mac-inference plus one per batch-norm element (unfolded inference)"),
    Convention("flop-all", "flops", _frozen({**_EVERYTHING, "conv": 2.0, "fc": 2.0, "fixed": 2.0,
                                             "bn": 2.0, "norm": 2.0, "resize": 2.0}),
               "two per multiply-add (conv, linear, batch norm, resize taps), one per pooled, "
               "activated or arithmetic element"),
    Convention("params", "params", _frozen({"weight": 1.0, "bias": 1.0, "norm": 1.0, "other": 1.0}),
               "every learnable parameter (PyTorch's sum of numel, fvcore parameter_count)"),
    Convention("params+stats", "params",
               _frozen({"weight": 1.0, "bias": 1.0, "norm": 1.0, "other": 1.0, "norm_stats": 1.0}),
               "learnable parameters plus batch-norm running mean/variance, as Keras "
               "count_params() and MXNet Gluon collect_params() report them"),
    Convention("weights", "params", _frozen({"weight": 1.0, "other": 1.0}),
               "weights only: no biases and no normalisation parameters"),
)})

DEFAULT_CONVENTION = {"flops": "mac", "params": "params"}

MODIFIERS: Mapping[str, Modifier] = _frozen({m.name: m for m in (
    Modifier("gates", "plus one per element-wise product or sum inside the recalibration blocks (the "
             "gate applied to the map: Caffe's Scale/Axpy layer)",
             extra=_frozen({"blocks.eltwise": 1.0}), requires_zero=("eltwise",)),
    Modifier("skip-transitions", "DenseNet transition layers left out", skip="transitions"),
)})

READINGS: Mapping[str, Reading] = _frozen({r.name: r for r in (
    Reading("default", _frozen({}), "the library's default build of the named architecture"),
    Reading("caffe-layout", _frozen({"stride_in_1x1": True}),
            "original Caffe ResNet layout: the stride of a downsampling bottleneck in its first "
            "1×1 conv (torchvision puts it in the 3×3)"),
)})

PRESETS: Mapping[str, Preset] = _frozen({p.name: p for p in (
    Preset("se-ge-paper", "gather-excite", "mac+gates", READINGS["caffe-layout"],
           "GE paper, as the claims audit finds it counted (hujie-frank Caffe models): multiply-adds "
           "of conv and FC layers plus the gate's element-wise product, stride in the first 1×1 conv "
           "(ResNet-50: 3.86 G, SE-ResNet-50: 3.87 G; its parameters: params+stats)"),
    Preset("ms-sar-paper", "ms-sar", "mac-learned+skip-transitions", READINGS["default"],
           "MS-SAR paper, as the claims audit finds it counted (Sec. 3.5): multiply-adds of "
           "convolutions and of the FC layers at the K² regional positions (2K²DD'), region "
           "averages (partial sums) and DenseNet transition layers left out (DenseNet-100: 252.5 M)"),
    Preset("cmpe-se-paper", "competitive-se", "params+stats", READINGS["default"],
           "CMPE-SE paper (official MXNet Gluon code): collect_params() lists batch-norm running "
           "statistics next to the learnable parameters"),
    Preset("torchvision", "", "mac", READINGS["default"],
           "multiply-adds of conv and FC layers in the torchvision layout (ResNet-50: 4.09 G)"),
)})


def get_convention(name: str) -> Convention:
    """The convention called ``name``: a base name, then ``+modifier`` for each modifier (``mac+gates``)."""
    base, mods = name, list[str]()
    while base not in CONVENTIONS and "+" in base:  # base names may hold a "+" themselves
        base, mod = base.rsplit("+", 1)
        mods.insert(0, mod)
    if base not in CONVENTIONS:
        raise UnknownNameError("convention", name, sorted(CONVENTIONS))
    convention = CONVENTIONS[base]
    for mod in mods:
        if mod not in MODIFIERS or not MODIFIERS[mod].applies(convention):
            valid = [m for m, modifier in MODIFIERS.items() if modifier.applies(convention)]
            raise UnknownNameError(f"modifier of convention {base!r}", mod, valid or ["none"])
        convention = MODIFIERS[mod].apply(convention)
    return convention


def conventions_for(metric: str) -> list[Convention]:
    """Every convention of ``metric``: the default first, then each base with each set of modifiers."""
    bases = [c for c in CONVENTIONS.values() if c.metric == metric]
    bases.sort(key=lambda c: c.name != DEFAULT_CONVENTION[metric])
    found = []
    for base in bases:
        combos: list[Convention] = [base]
        for modifier in MODIFIERS.values():
            combos += [modifier.apply(c) for c in combos if modifier.applies(c)]
        found += combos
    return found


def resolve(name: str) -> tuple[Convention, Reading]:
    """A convention or preset name → (convention, reading); a bare convention reads the default build."""
    if name in PRESETS:
        preset = PRESETS[name]
        return get_convention(preset.convention), preset.reading
    try:
        return get_convention(name), READINGS["default"]
    except UnknownNameError:
        raise UnknownNameError("convention or preset", name, sorted({*CONVENTIONS, *PRESETS})) from None
