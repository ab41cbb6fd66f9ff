"""OpenVINO's executed graph: the layers the CPU plugin ran, what they absorbed, and their times."""
from __future__ import annotations

import json

import pytest

from recalib.deploy.backends.openvino_graph import REORDER, executed_graph
from recalib.errors import ShapeError

from deploy_testing import INPUT_CHW, Models

pytest.importorskip("openvino", reason="openvino-cpu needs the openvino package (pip install -e '.[cpu]')")


def test_summary_shows_the_fused_convolutions_and_times_every_executed_layer(tiny_models: Models) -> None:
    _, path = tiny_models["gated"]  # conv-BN-ReLU, conv-sigmoid, mean, linear
    graph = executed_graph(path, (2, *INPUT_CHW), threads=1, runs=3)
    assert graph.precision == "f32" and graph.shape == (2, *INPUT_CHW) and graph.runs == 3
    assert graph.count_by_type()["Convolution"] == 2
    # each conv absorbed its bias Add and its activation: no Relu or Sigmoid layer ran
    assert graph.fusions() == {"Convolution <- Add+Relu": 1, "Convolution <- Add+Sigmoid": 1}
    assert not {"Relu", "Sigmoid", "Eltwise"} & set(graph.count_by_type())
    assert all(layer.ms is not None and layer.min_ms is not None and 0 <= layer.min_ms <= layer.ms
               for layer in graph.executed)
    assert graph.total_ms == pytest.approx(sum(graph.ms_by_type().values()))
    assert sum(graph.ms_by_type(fastest=True).values()) <= graph.total_ms
    assert graph.reorders() == sum(1 for layer in graph.executed if layer.layer_type == REORDER)
    assert {layer.precision for layer in graph.executed if layer.layer_type == "Convolution"} == {"f32"}


def test_summary_is_json_ready(tiny_models: Models) -> None:
    _, path = tiny_models["plain"]
    data = json.loads(json.dumps(executed_graph(path, (1, *INPUT_CHW), threads=1, runs=1).to_dict()))
    assert data["count_by_type"]["Convolution"] == 1 and len(data["layers"]) > data["count_by_type"]["Convolution"]


def test_summary_refuses_a_shape_the_graph_was_not_exported_for(tiny_models: Models) -> None:
    _, path = tiny_models["plain"]
    with pytest.raises(ShapeError):
        executed_graph(path, (1, 3, 8, 8), threads=1, runs=1)
