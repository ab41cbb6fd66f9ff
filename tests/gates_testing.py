"""Models with gates for the gate tests: timm/torchvision look-alikes (``examples/foreign_models.py``)
and tiny hand-written ones, prepared with weights that are not degenerate."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import foreign_models as fm  # noqa: E402

from recalib.export.prepare import calibrate_batchnorm  # noqa: E402

SMALL_CHW = (3, 32, 32)


def prepared(model: nn.Module, chw: tuple[int, int, int] = SMALL_CHW) -> nn.Module:
    """``model`` in eval mode with batch-norm statistics from random inputs, as recalib prepares models."""
    return calibrate_batchnorm(model, chw)


def small_seresnet() -> nn.Module:
    """timm's ``seresnet50`` at a quarter width and 0.3 depth (blocks 1, 2, 2, 1), its last norms not
    zero-initialised: with timm's ``zero_init_last`` the gated tensors are zero and an ablation shows nothing."""
    return fm.ResNet([1, 2, 2, 1], fm.SEModule, width=0.25, num_classes=10, zero_init_last=False)


def small_mobilenet() -> nn.Module:
    return fm.mobilenet_v3_large(width=0.5, num_classes=10)


class HardGate(nn.Module):
    """timm's hand-written hard sigmoid, ``relu6(x + 3) / 6``, on a pooled, projected descriptor."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (nn.functional.relu6(self.fc(x.mean((2, 3), keepdim=True)) + 3.0) / 6.0)


class Tiny(nn.Module):
    """conv → gate → conv; ``gate`` None puts a SiLU (``x * sigmoid(x)``: no descriptor, no gate) there."""

    def __init__(self, gate: nn.Module | None) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 4, 3, padding=1)
        self.gate = gate if gate is not None else nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.gate(self.conv1(x)))


def hand_graph(broadcast: bool = False) -> onnx.ModelProto:
    """A graph from no exporter (no module paths): ``x -> conv -> y``, ``out = y * sigmoid(mean(y))``; with
    ``broadcast`` a second gate scales a one-channel map ``f`` that its product broadcasts to eight channels
    (``out2``), which has no identity to fall back to."""
    weight = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 1, 1], np.ones(24, np.float32))
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"]), helper.make_node("GlobalAveragePool", ["y"], ["m"]),
             helper.make_node("Sigmoid", ["m"], ["s"]), helper.make_node("Mul", ["y", "s"], ["out"])]
    outputs = [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8, 4, 4])]
    if broadcast:
        nodes += [helper.make_node("ReduceMax", ["y"], ["f"], axes=[1], keepdims=1),
                  helper.make_node("GlobalMaxPool", ["y"], ["p"]), helper.make_node("Sigmoid", ["p"], ["t"]),
                  helper.make_node("Mul", ["f", "t"], ["out2"])]
        outputs.append(helper.make_tensor_value_info("out2", TensorProto.FLOAT, [1, 8, 4, 4]))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                              outputs, [weight])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
