"""PyTorch's side of the gates: a module's graph to find them in, and the module with gates bypassed.

:func:`module_graph` exports a module as it is (no fold, no rewrite, nothing written or verified:
the graph only has to show the structure and carry each node's module path), so the one detector
(:func:`recalib.export.gates.detect.find_gates`) serves modules as it serves ``.onnx`` files.
:func:`bypass` replaces gates that are whole modules by :class:`Bypass`, the PyTorch form of an
ablated gate that torch runtimes time.
"""
from __future__ import annotations

import copy
from collections.abc import Sequence

import onnx
import torch
from torch import nn

from recalib.errors import ConfigError
from recalib.export.gates.gate import Gate
from recalib.export.options import ExportOptions
from recalib.export.torch_exporter import export_program

__all__ = ["module_graph", "Bypass", "bypass"]


def module_graph(model: nn.Module, input_chw: Sequence[int]) -> onnx.ModelProto:
    """``model``'s ONNX graph as torch's dynamo exporter writes it (module paths on every node)."""
    was_training = model.training
    model.eval()
    try:
        example = torch.randn(2, *input_chw)  # a dynamic batch is traced at 2 (torch.export specialises 1)
        program = export_program(model, example, ExportOptions(fold=False, optimize=False))
    finally:
        model.train(was_training)
    return program.model_proto


class Bypass(nn.Module):
    """An ablated gate: returns the tensor it was given to scale (the first argument), unchanged."""

    def forward(self, x: torch.Tensor, *rest: object) -> torch.Tensor:
        return x


def bypass(model: nn.Module, gates: Sequence[Gate]) -> nn.Module:
    """A copy of ``model`` with each of ``gates`` replaced by :class:`Bypass`; every gate must be a
    whole module (``Gate.whole_module``), or the copy would lose more than the gate."""
    partial = [g.name for g in gates if not g.whole_module or not g.module]
    if partial:
        raise ConfigError(f"gates {', '.join(partial)} are not whole modules (their code shares a module with "
                          f"other work), so PyTorch cannot bypass them; time the ablation on an ONNX runtime")
    ablated = copy.deepcopy(model)
    for gate in gates:
        assert gate.module is not None
        parent, _, child = gate.module.rpartition(".")
        setattr(ablated.get_submodule(parent), child, Bypass())
    return ablated
