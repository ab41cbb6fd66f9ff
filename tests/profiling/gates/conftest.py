"""The small timm-style SE-ResNet, prepared (weights not degenerate), its graph and its gate inventory, once a session."""
from __future__ import annotations

import onnx
import pytest
from torch import nn

import gates_testing as gt
from recalib.export.gates.modules import module_graph
from recalib.profiling.gates.inventory import GateInventory, inventory_of_module


@pytest.fixture(scope="session")
def seresnet() -> nn.Module:
    return gt.prepared(gt.small_seresnet())


@pytest.fixture(scope="session")
def seresnet_gates(seresnet: nn.Module) -> GateInventory:
    return inventory_of_module(seresnet, gt.SMALL_CHW, "seresnet")


@pytest.fixture(scope="session")
def seresnet_graph(seresnet: nn.Module) -> onnx.ModelProto:
    return module_graph(seresnet, gt.SMALL_CHW)
