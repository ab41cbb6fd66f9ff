"""Every registered block, with its defaults and each alternative its paper describes, in a small host
model, exports to verified standard-op ONNX."""
from __future__ import annotations

import json

import onnx
import pytest
import torch
from torch import nn

from recalib import export
from recalib.blocks import block_variants, list_blocks


class Branches(nn.Module):
    """Hosts side by side on one input, outputs summed: one export checks every variant of a block."""

    def __init__(self, hosts: list[nn.Module]) -> None:
        super().__init__()
        self.hosts = nn.ModuleList(hosts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.hosts[0](x)
        for host in self.hosts[1:]:
            out = out + host(x)
        return out


@pytest.mark.parametrize("block", list_blocks())
def test_every_block_exports_with_parity_at_two_batches_and_an_odd_size(block, host, tmp_path):
    variants = [options for name, _, options in block_variants() if name == block]
    path = tmp_path / f"{block}.onnx"
    report = export.to_onnx(Branches([host(block, options=options) for options in variants]).eval(),
                            (3, 13, 13), path)
    assert [p.shape for p in report.parity] == [(1, 3, 13, 13), (3, 3, 13, 13)]
    assert report.max_rel_error < 1e-4
    model = onnx.load(str(path))
    assert {n.domain for n in model.graph.node} <= {"", "ai.onnx"}
    assert [o.domain for o in model.opset_import] == [""] and not model.functions
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert isinstance(dims[0], str) and dims[1:] == [3, 13, 13]
    assert json.loads(path.with_suffix(".report.json").read_text())["opset"] == 18
    assert not list(tmp_path.glob(".recalib-staging-*"))
