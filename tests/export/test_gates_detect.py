"""Gates are found in the graphs of others' networks and of recalib's blocks, where they are and what they are."""
from __future__ import annotations

import pytest

import gates_testing as gt
import recalib
from recalib.export.gates.detect import find_gates
from recalib.export.gates.modules import module_graph
from recalib.export.gates.select import select_gates
from recalib.errors import ConfigError


def _gates(model, chw=gt.SMALL_CHW):
    return find_gates(module_graph(model.eval(), chw))


def _modules(model, kind) -> list[str]:
    return [name for name, m in model.named_modules() if isinstance(m, kind)]


def test_timm_style_se_gates_are_found_at_their_modules_with_their_stages() -> None:
    model = gt.small_seresnet()
    gates = _gates(model)
    assert [g.name for g in gates] == _modules(model, gt.fm.SEModule)
    assert all(g.whole_module and g.kind == "channel" and g.activation == "sigmoid" for g in gates)
    assert [g.stage for g in gates] == [1, 2, 2, 3, 3, 4]  # 8x8, 4x4, 2x2, 1x1 maps at 32x32 input
    assert gates[0].descriptors == ("ReduceMean",) and gates[0].feature_shape[1:] == (64, 8, 8)


def test_torchvision_hard_sigmoid_squeeze_excitation_is_a_gate() -> None:
    model = gt.small_mobilenet()
    gates = _gates(model)
    assert [g.name for g in gates] == _modules(model, gt.fm.SqueezeExcitation)
    assert {g.activation for g in gates} == {"hard sigmoid"}


def test_a_hand_written_hard_sigmoid_is_named_and_a_silu_is_no_gate() -> None:
    (gate,) = _gates(gt.Tiny(gt.HardGate(8)))
    assert gate.activation == "hard sigmoid as relu6(x+3)/6" and gate.name == "gate" and gate.whole_module
    assert _gates(gt.Tiny(None)) == []


def test_recalib_blocks_are_found_one_per_insertion_point() -> None:
    model = recalib.create_model("cifar_resnet20", "ge-theta-minus", extent=2)
    gates = _gates(model)
    assert [g.name for g in gates] == [f"layer{s}.{b}.recal" for s in (1, 2, 3) for b in range(3)]
    assert {g.kind for g in gates} == {"regional"} and {g.descriptors for g in gates} == {("AveragePool",)}


@pytest.mark.slow
@pytest.mark.parametrize("block, kind", [("se", "channel"), ("ge-theta", "channel"), ("ms-sar", "regional"),
                                         ("cc-reduced", "regional"), ("cmpe-se-double-fc", "channel")])
def test_every_input_dependent_recalib_block_is_a_gate(block: str, kind: str) -> None:
    gates = _gates(recalib.create_model("cifar_resnet20", block))
    assert len(gates) == 9 and all(g.kind == kind and g.whole_module for g in gates)


@pytest.mark.slow
@pytest.mark.parametrize("factory, gate", [(lambda: gt.fm.ecaresnet(width=0.25, depth=0.3), gt.fm.EcaModule),
                                           (lambda: gt.fm.cbam_resnet(width=0.25, depth=0.3), gt.fm.ChannelAttention),
                                           (lambda: gt.fm.efficientnet_b0(width=0.25, depth=0.3), gt.fm.SqueezeExcite)])
def test_eca_cbam_and_efficientnet_gates_are_found(factory, gate) -> None:
    model = factory()
    assert [g.name for g in _gates(model)] == _modules(model, gate)


def test_a_graph_without_module_paths_names_its_gates_by_their_multiply() -> None:
    (gate,) = find_gates(gt.hand_graph())
    assert gate.module is None and gate.name == "Mul:out" and gate.feature == "y" and gate.refused is None


def test_a_gate_whose_product_broadcasts_its_feature_is_found_but_refused() -> None:
    gate, broadcasting = find_gates(gt.hand_graph(broadcast=True))
    assert gate.refused is None and broadcasting.feature == "f"
    assert "broadcasts the feature" in (broadcasting.refused or "")


def test_selecting_gates_that_do_not_exist_lists_the_ones_that_do() -> None:
    gates = find_gates(gt.hand_graph())
    with pytest.raises(ConfigError, match="no gate is named 'layer9'; choose from: all, stage1, Mul:out"):
        select_gates(gates, ["layer9"])
    with pytest.raises(ConfigError, match="no gates found"):
        select_gates([], ["all"])


def _scoped(graph, module: str) -> None:
    """Mark every node as written by ``module`` (what torch's exporter records)."""
    for node in graph.graph.node:
        node.metadata_props.add(key="pkg.torch.onnx.name_scopes", value=repr(["", module, node.output[0]]))


def _scaled_after(scoped: bool):
    """The hand-built gate, its product then scaled by a constant 1/3 (MS-SAR's onnxruntime form averages so)."""
    from onnx import TensorProto, helper

    graph = gt.hand_graph()
    product = next(n for n in graph.graph.node if n.op_type == "Mul")
    product.output[0] = "product"
    graph.graph.initializer.append(helper.make_tensor("third", TensorProto.FLOAT, [], [1 / 3]))
    graph.graph.node.append(helper.make_node("Mul", ["product", "third"], ["out"]))
    if scoped:
        _scoped(graph, "gate")
    return graph


def test_a_constant_scale_after_the_product_belongs_to_the_gate_where_module_paths_say_so() -> None:
    (gate,) = find_gates(_scaled_after(scoped=True))
    assert gate.output == "out" and gate.nodes[-1] == "Mul:out" and gate.name == "gate"
    (bare,) = find_gates(_scaled_after(scoped=False))
    assert bare.output == "product"
