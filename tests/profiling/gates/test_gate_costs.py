"""Each gate's parameters and multiply-adds, and their share of the network, checked by hand."""
from __future__ import annotations

import onnx
import pytest
import torch
from torch import nn

import gates_testing as gt
from recalib.profiling.counting.counts import count_module
from recalib.profiling.counting.graph_counts import count_graph
from recalib.profiling.gates.inventory import GateInventory, inventory_of_graph, inventory_of_module


def _se_by_hand(model: nn.Module) -> tuple[int, int]:
    """(parameters, multiply-adds) of every SE module: two 1x1 convolutions C->h->C on a 1x1 map, with biases."""
    params = macs = 0
    for se in (m for m in model.modules() if isinstance(m, gt.fm.SEModule)):
        channels, hidden = se.fc1.in_channels, se.fc1.out_channels
        params += 2 * channels * hidden + hidden + channels
        macs += 2 * channels * hidden
    return params, macs


def test_se_gates_hold_the_parameters_and_macs_of_their_two_fcs(seresnet: nn.Module,
                                                                 seresnet_gates: GateInventory) -> None:
    costs, counts = seresnet_gates.costs, count_module(seresnet, (1, *gt.SMALL_CHW))
    assert (costs.params, costs.macs) == _se_by_hand(seresnet)
    assert (costs.total_params, costs.total_macs) == (counts.total("params"), counts.total("mac"))
    assert costs.param_share == pytest.approx(costs.params / sum(p.numel() for p in seresnet.parameters()))


def test_graph_counts_equal_fvcore_on_the_exported_module(seresnet: nn.Module, seresnet_graph: onnx.ModelProto) -> None:
    graph = seresnet_graph
    assert count_graph(graph).total_macs == count_module(seresnet, (1, *gt.SMALL_CHW)).total("mac")
    from_graph = inventory_of_graph(graph, gt.SMALL_CHW, "file")
    assert from_graph.costs.macs == _se_by_hand(seresnet)[1]
    assert from_graph.costs.params == _se_by_hand(seresnet)[0]  # the SE branch has no batch norm to fold


@pytest.mark.slow
def test_timm_seresnet50_gates_hold_2514944_fc_weights_plus_biases() -> None:
    torch.manual_seed(0)
    model = gt.fm.seresnet50().eval()
    found = inventory_of_module(model, (3, 224, 224), "seresnet50")
    biases = sum(se.fc1.out_channels + se.fc2.out_channels for se in model.modules()
                 if isinstance(se, gt.fm.SEModule))
    assert len(found.gates) == 16 and found.costs.params == 2_514_944 + biases
    assert found.costs.param_share == pytest.approx(0.0901, abs=5e-4)  # 9.0% of 28,088,024
