"""Gates ablated in an exported file and bypassed in PyTorch: smaller, different, and agreeing with each other."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

import gates_testing as gt
from recalib.errors import ConfigError
from recalib.export import to_onnx
from recalib.export.gates.ablate import ablate
from recalib.export.gates.check import check_ablation
from recalib.export.gates.detect import find_gates
from recalib.export.gates.modules import Bypass, bypass
from recalib.export.options import ExportOptions
from recalib.export.prepare import calibrate_batchnorm
from recalib.export.verify import ort_session, run_onnx
from recalib.profiling.gates.inventory import GateInventory


def _export(model: nn.Module, path: Path) -> onnx.ModelProto:
    to_onnx(model, gt.SMALL_CHW, path, ExportOptions(write_report=False))
    return onnx.load(str(path))


def test_ablating_every_gate_removes_their_branches_and_matches_the_bypassed_module(
        seresnet: nn.Module, seresnet_graph: onnx.ModelProto, seresnet_gates: GateInventory) -> None:
    graph = seresnet_graph
    ablation = ablate(graph, find_gates(graph))
    assert find_gates(ablation.model) == [] and ablation.removed_nodes == 6 * 5 + 6  # 6 multiplies, 5 nodes each
    assert len(ablation.model.graph.node) == len(graph.graph.node) - ablation.removed_nodes
    onnx.checker.check_model(ablation.model, full_check=True)
    assert check_ablation(graph, ablation, gt.SMALL_CHW, bound=1e-4).differs
    bypassed = bypass(seresnet, seresnet_gates.gates)
    assert sum(isinstance(m, Bypass) for m in bypassed.modules()) == 6
    x = torch.randn(2, *gt.SMALL_CHW)
    with torch.no_grad():
        expected = bypassed(x).numpy()
    got = run_onnx(ort_session(ablation.model.SerializeToString(), 1), x.numpy())[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * float(np.abs(expected).max()))


def test_a_gate_on_a_zero_tensor_makes_the_ablation_vacuous_and_it_says_so() -> None:
    graph = gt.hand_graph()
    graph.graph.initializer[0].CopyFrom(onnx.numpy_helper.from_array(np.zeros((8, 3, 1, 1), np.float32), "w"))
    check = check_ablation(graph, ablate(graph, find_gates(graph)), (3, 4, 4), bound=1e-4)
    assert not check.differs and check.difference == 0.0
    assert check.reasons == ("Mul:out: the tensor it scales (y) is zero everywhere, e.g. a norm initialised at "
                             "zero (timm's zero_init_last); redraw those weights",)


@pytest.mark.slow
def test_zero_initialised_last_norms_make_the_ablation_vacuous_and_it_says_so(tmp_path: Path) -> None:
    model = gt.fm.seresnet50(width=0.25, depth=0.3, num_classes=10)  # timm's zero_init_last, not redrawn
    graph = _export(calibrate_batchnorm(model, gt.SMALL_CHW), tmp_path / "zero.onnx")
    gates = find_gates(graph)
    check = check_ablation(graph, ablate(graph, gates), gt.SMALL_CHW, bound=1e-4)
    assert not check.differs and check.difference == 0.0
    assert len(check.reasons) == len(gates) and "is zero everywhere" in check.reasons[0]
    assert check.describe().startswith("VACUOUS")


def test_a_gate_that_cannot_be_ablated_is_left_as_is_and_reported() -> None:
    graph = gt.hand_graph(broadcast=True)
    gate, broadcasting = find_gates(graph)
    ablation = ablate(graph, [gate, broadcasting])
    assert ablation.gates == (gate,) and ablation.refused == (broadcasting,)
    assert [n.op_type for n in ablation.model.graph.node if n.output[0] == "out2"] == ["Mul"]
    assert "left as is: Mul:out2 (the product" in ablation.describe()
    with pytest.raises(ConfigError, match="none of the gates can be ablated.*broadcasts the feature"):
        ablate(graph, [broadcasting])


@pytest.mark.slow
@pytest.mark.parametrize("target", ["onnxruntime", "openvino"])
def test_ms_sar_rewritten_for_each_runtime_ablates_to_the_bypassed_module(tmp_path: Path, target: str) -> None:
    import recalib
    from recalib.export.gates.modules import module_graph

    model = calibrate_batchnorm(recalib.create_model("cifar_resnet20", "ms-sar"), gt.SMALL_CHW)
    to_onnx(model, gt.SMALL_CHW, tmp_path / "m.onnx", ExportOptions(optimize=target, write_report=False))
    graph = onnx.load(str(tmp_path / "m.onnx"))
    ablation = ablate(graph, find_gates(graph))
    bypassed = bypass(model, find_gates(module_graph(model, gt.SMALL_CHW)))
    x = torch.randn(1, *gt.SMALL_CHW)
    with torch.no_grad():
        expected = bypassed(x).numpy()
    got = run_onnx(ort_session(ablation.model.SerializeToString(), 1), x.numpy())[0]
    assert float(np.abs(got - expected).max() / np.abs(expected).max()) < 1e-5
