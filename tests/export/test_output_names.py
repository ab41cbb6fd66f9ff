"""Graph outputs are named from the exported program itself: ``output``, or ``output0``, ``output1``, …"""
from __future__ import annotations

import onnx
import torch
from torch import nn

from recalib import export


class TwoHeads(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        y = self.conv(x)
        return y.relu(), y.mean((2, 3))


def test_one_output_is_named_output_and_several_are_numbered(tmp_path) -> None:
    export.to_onnx(nn.Conv2d(3, 4, 1).eval(), (3, 5, 5), tmp_path / "one.onnx")
    report = export.to_onnx(TwoHeads().eval(), (3, 5, 5), tmp_path / "two.onnx")
    assert [o.name for o in onnx.load(str(tmp_path / "one.onnx")).graph.output] == ["output"]
    assert [o.name for o in onnx.load(str(tmp_path / "two.onnx")).graph.output] == ["output0", "output1"]
    assert report.output_dims == [["batch", 4, 5, 5], ["batch", 4]]
