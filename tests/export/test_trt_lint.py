"""The TensorRT 10.0 lint flags what the parser's operator table rejects, and nothing else."""
from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from recalib.export.trt_lint import lint

FLOAT = TensorProto.FLOAT


def _model(nodes, initializers=(), opset=18, dtype=FLOAT):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", dtype, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", dtype, None)], list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _axes(name="axes"):
    return numpy_helper.from_array(np.array([2, 3], np.int64), name)


def test_clean_graph_has_no_findings():
    model = _model([helper.make_node("ReduceMean", ["x", "axes"], ["r"]),
                    helper.make_node("Resize", ["r", "", "", "sizes"], ["y"], mode="nearest",
                                     coordinate_transformation_mode="asymmetric", nearest_mode="floor")],
                   [_axes(), numpy_helper.from_array(np.array([1, 3, 8, 8], np.int64), "sizes")])
    assert lint(model) == []


@pytest.mark.parametrize("node,message", [
    (helper.make_node("Resize", ["x", "", "", "s"], ["y"], mode="cubic"), "mode='cubic'"),
    (helper.make_node("Resize", ["x", "", "", "s"], ["y"], antialias=1), "antialias"),
    (helper.make_node("AveragePool", ["x"], ["y"], kernel_shape=[2, 2], dilations=[2, 2]), "dilations"),
    (helper.make_node("MaxPool", ["x"], ["y", "idx"], kernel_shape=[2, 2]), None),
    (helper.make_node("Unique", ["x"], ["y"]), "not supported"),
    (helper.make_node("ReduceMean", ["x", "computed"], ["y"]), "must be an initializer"),
    (helper.make_node("TopK", ["x", "k"], ["y", "i"], sorted=0), "sorted must be 1"),
])
def test_restrictions_from_the_operator_table_are_flagged(node, message):
    findings = lint(_model([helper.make_node("Shape", ["x"], ["computed"]), node]))
    if message is None:  # an unused Indices output is fine
        assert findings == []
    else:
        assert len(findings) == 1 and message in findings[0].message


def test_used_maxpool_indices_are_flagged():
    nodes = [helper.make_node("MaxPool", ["x"], ["p", "idx"], kernel_shape=[2, 2]),
             helper.make_node("Cast", ["idx"], ["y"], to=FLOAT)]
    assert ["Indices" in f.message for f in lint(_model(nodes))] == [True]


def test_opset_outside_9_to_20_and_double_tensors_are_flagged():
    findings = lint(_model([helper.make_node("Relu", ["x"], ["y"])], opset=21, dtype=TensorProto.DOUBLE))
    assert sorted(f.rule for f in findings) == ["opset", "type", "type"]
