"""``torch-eager``'s time per module and op, from ``torch.profiler``: what ``recalib bench --profile`` reads.

torch's profiler records every aten op; what it does not record is which module called it
(its ``with_modules`` covers TorchScript only). Here every module of the model opens a
``record_function`` scope named after its path (``layer1.0.se``) in a forward pre-hook and
closes it in a forward hook, so each op the profiler records sits inside the scope of the
innermost module running it. An op is billed to that module whole (the aten calls it makes
inside, e.g. ``aten::conv2d`` -> ``aten::mkldnn_convolution``, are part of it); what a module's
scope holds beyond its ops and its submodules is the Python of its ``forward`` and the hooks,
billed to the module as :data:`PYTHON`. The profiler and the hooks cost time of their own, so
the total exceeds the timed latency; the shares are what to read.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import nn

from recalib.deploy.runner import random_input

__all__ = ["module_op_times", "PYTHON"]

PYTHON = "(python)"  # a module's own time outside the ops it calls: its forward's Python and the hooks
_SCOPE = "module::"  # the prefix of the scopes the hooks open, told apart from the ops


@contextmanager
def _module_scopes(model: nn.Module) -> Iterator[None]:
    """Every module of ``model`` runs inside a profiler scope named after its path, while the block lasts."""
    open_scopes: list[Any] = []

    def enter(path: str) -> Any:
        def hook(module: nn.Module, args: Any) -> None:
            scope = torch.profiler.record_function(_SCOPE + path)
            scope.__enter__()
            open_scopes.append(scope)
        return hook

    def leave(module: nn.Module, args: Any, output: Any) -> None:
        open_scopes.pop().__exit__(None, None, None)

    handles = [h for path, module in model.named_modules()
               for h in (module.register_forward_pre_hook(enter(path)), module.register_forward_hook(leave))]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _bill(scope: Any, totals: defaultdict[tuple[str, str], float]) -> None:
    """Add the microseconds of ``scope`` (one module's call) to ``totals`` by (module path, op), recursively."""
    path = scope.name[len(_SCOPE):]
    inside = 0.0
    for child in scope.cpu_children:
        inside += child.cpu_time_total
        if child.name.startswith(_SCOPE):
            _bill(child, totals)
        else:
            totals[path, child.name] += child.cpu_time_total
    totals[path, PYTHON] += max(0.0, scope.cpu_time_total - inside)


def module_op_times(module: nn.Module, shape: tuple[int, ...], threads: int | None,
                    runs: int = 10) -> dict[tuple[str, str], float]:
    """``(module path, op) -> median ms per inference`` of ``module`` (run as it is, in eval mode under
    ``torch.no_grad``) over ``runs`` profiled runs after one warm-up, on ``threads`` torch threads."""
    from torch.profiler import ProfilerActivity, profile

    previous = torch.get_num_threads()
    x = torch.from_numpy(random_input(shape, np.dtype(np.float32)))
    try:
        if threads is not None:
            torch.set_num_threads(threads)
        with torch.no_grad(), _module_scopes(module):
            module(x)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(max(1, runs)):
                    module(x)
    finally:
        torch.set_num_threads(previous)
    per_run = []
    for root in (e for e in prof.events() if e.cpu_parent is None and e.name == _SCOPE):
        totals: defaultdict[tuple[str, str], float] = defaultdict(float)
        _bill(root, totals)
        per_run.append(totals)
    keys = dict.fromkeys(key for totals in per_run for key in totals)
    return {key: float(np.median([totals.get(key, 0.0) for totals in per_run])) / 1e3 for key in keys}
