"""Count parameters and work of a module once, by module and category.

:func:`count_module` traces the module a single time with fvcore (using every handle of
:mod:`recalib.profiling.counting.handles`) and records, for every submodule, the work per category and the
parameters per category. Conventions are applied afterwards, so one trace serves them all.
Every counter also holds the scoped categories of :mod:`recalib.profiling.counting.scopes` (``"blocks.fc"`` …).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from fvcore.nn import FlopCountAnalysis
from torch import nn

from recalib.profiling.counting.conventions import Convention, get_convention
from recalib.profiling.counting.handles import FREE_OPS, make_handles
from recalib.profiling.counting.scopes import add_scopes, ancestors
from recalib.errors import ConfigError

__all__ = ["Counts", "count_module", "count_params", "make_analysis", "PARAM_CATEGORIES"]

PARAM_CATEGORIES = ("weight", "bias", "norm", "other", "norm_stats")
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)
_WEIGHTED = (nn.modules.conv._ConvNd, nn.Linear)


@dataclass
class Counts:
    """Per-module counts of one model at one input shape.

    ``flops[name]`` and ``params[name]`` are Counters by category for the module ``name``
    (``""`` is the whole model) including its children. ``unsupported`` lists traced ops no
    handle covered: a non-empty Counter means the FLOP totals miss work.
    """

    input_shape: tuple[int, ...]
    flops: dict[str, Counter] = field(default_factory=dict)
    params: dict[str, Counter] = field(default_factory=dict)
    unsupported: Counter = field(default_factory=Counter)

    def total(self, convention: Convention | str, module: str = "") -> float:
        """The total of ``module`` (default: whole model) under ``convention``."""
        conv = get_convention(convention) if isinstance(convention, str) else convention
        table = self.flops if conv.metric == "flops" else self.params
        if module not in table:
            raise ConfigError(f"no module named {module!r} was counted; valid names look like "
                              f"{', '.join(sorted(table)[:5])} …")
        return conv.apply(table[module])

    def categories(self, metric: str, module: str = "") -> Counter:
        """Raw per-category counts of ``module`` for ``metric`` (``flops`` or ``params``), scopes left out."""
        counts = (self.flops if metric == "flops" else self.params).get(module, Counter())
        return Counter({cat: n for cat, n in counts.items() if "." not in cat})


def make_analysis(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> FlopCountAnalysis:
    """An fvcore analysis with every handle of this package and the free ops ignored."""
    analysis = FlopCountAnalysis(model, inputs)
    analysis.set_op_handle(**make_handles(len(inputs)))
    analysis.set_op_handle(**{name: None for name in FREE_OPS})
    # Unsupported ops are returned as data (Counts.unsupported) instead of logged.
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    return analysis


def _param_category(module: nn.Module, name: str) -> str:
    if isinstance(module, _NORMS):
        return "norm"
    if isinstance(module, _WEIGHTED):
        return "weight" if name == "weight" else "bias"
    return "other"


def count_params(model: nn.Module) -> dict[str, Counter]:
    """Parameters by category for every module name (ancestors include their children).

    Batch-norm running statistics are buffers, counted as ``norm_stats`` so that conventions
    which (like Keras and MXNet) count them can; ``num_batches_tracked`` is bookkeeping.
    """
    table: dict[str, Counter] = {name: Counter() for name, _ in model.named_modules()}
    for name, module in model.named_modules():
        own: Counter[str] = Counter()
        for pname, param in module.named_parameters(recurse=False):
            own[_param_category(module, pname)] += param.numel()
        if isinstance(module, nn.modules.batchnorm._NormBase) and module.track_running_stats:
            own["norm_stats"] += sum(b.numel() for b in (module.running_mean, module.running_var)
                                     if b is not None)
        for prefix in ancestors(name):
            table[prefix].update(own)
    add_scopes(model, table)
    return table


def count_module(model: nn.Module, input_shape: Sequence[int] | None = None,
                 inputs: tuple[torch.Tensor, ...] | None = None) -> Counts:
    """Trace ``model`` once (eval mode, no grad) and count everything by module and category.

    Give either ``input_shape`` (``(N, C, H, W)``, filled with random values) or ``inputs``.
    """
    if (input_shape is None) == (inputs is None):
        raise ConfigError("count_module needs exactly one of input_shape or inputs")
    if inputs is None:
        inputs = (torch.randn(*(input_shape or ())),)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            analysis = make_analysis(model, inputs)
            flops = {name: Counter(c) for name, c in analysis.by_module_and_operator().items()}
            unsupported = Counter(analysis.unsupported_ops())
        add_scopes(model, flops)
    finally:
        model.train(was_training)
    return Counts(tuple(inputs[0].shape), flops, count_params(model), unsupported)

