"""Small host models and helpers for the export tests (kept tiny: export is slow-ish)."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx
import torch
from torch import nn

from recalib.blocks import block_entry, create_block


class Host(nn.Module):
    """stem conv-BN-ReLU → conv-BN → block (→ + identity): the blocks' residual insertion point."""

    def __init__(self, block: str, channels: int = 32, size: tuple[int, int] = (13, 13),
                 options: dict | None = None) -> None:
        super().__init__()
        entry = block_entry(block)
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False),
                                  nn.BatchNorm2d(channels), nn.ReLU())
        self.conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        context = {"feat_size": size} if entry.needs_feat_size else {}
        self.block = create_block(block, channels, **context, **(options or {}))
        self.takes_identity = entry.takes_identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.stem(x)
        z = self.bn(self.conv(y))
        return (self.block(z, y) if self.takes_identity else self.block(z)) + y


def randomize(model: nn.Module) -> nn.Module:
    """Non-trivial BN statistics and gate parameters, so folding is actually exercised."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            if hasattr(m, "theta"):
                m.theta.normal_()
    return model.eval()


def ops(path: Path) -> list[str]:
    """Op types of the graph at ``path``, in order."""
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def ort_ops(path: Path) -> Counter:
    """Op types of onnxruntime's optimised graph of ``path``, NCHWc ops prefixed ``nchwc:``."""
    from recalib.deploy.backends.ort import optimized_graph

    return Counter(("nchwc:" if n.domain.endswith("nchwc") else "") + n.op_type
                   for n in optimized_graph(path).node)


def reorders(ops: Counter) -> int:
    """Layout copies in onnxruntime's optimised graph (:func:`ort_ops`): into and out of NCHWc."""
    return ops["nchwc:ReorderInput"] + ops["nchwc:ReorderOutput"]
