"""Runners refuse damaged and foreign files with a clear error, and never change the caller's model."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from recalib.deploy import create_runner
from recalib.deploy.runner_options import RunnerOptions
from deploy_testing import INPUT_CHW, Models, tiny_net
from recalib.deploy.runner import random_input
from recalib.errors import ConfigError


def _custom_domain(path: Path) -> Path:
    node = helper.make_node("FastGelu", ["x"], ["y"], domain="com.microsoft")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18),
                                                      helper.make_opsetid("com.microsoft", 1)]), str(path))
    return path


@pytest.mark.parametrize("backend", ["ort-cpu", "openvino-cpu"])
@pytest.mark.parametrize("damage,message", [
    ("empty", r"is empty \(0 bytes\)"),
    ("truncated", "is not an ONNX model .* truncated or another format"),
    ("random", "is not an ONNX model|holds no ONNX graph"),
    ("custom", r"uses ops outside the default ONNX domain \(com.microsoft::FastGelu\)"),
])
def test_a_damaged_or_foreign_onnx_file_is_a_clear_error(tiny_models: Models, tmp_path: Path, backend: str,
                                                         damage: str, message: str) -> None:
    pytest.importorskip("openvino" if backend == "openvino-cpu" else "onnxruntime")
    good = tiny_models["plain"][1].read_bytes()
    path = tmp_path / "m.onnx"
    if damage == "custom":
        _custom_domain(path)
    else:
        content = {"empty": b"", "truncated": good[: len(good) // 2],
                   "random": np.random.default_rng(0).bytes(4096)}[damage]
        path.write_bytes(content)
    with pytest.raises(ConfigError, match=message):
        create_runner(backend, path)


@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_a_torch_runner_leaves_the_callers_model_as_it_was(precision: str) -> None:
    model = tiny_net().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    runner = create_runner("torch-eager", model, RunnerOptions(precision=precision))
    runner.run(random_input((2, *INPUT_CHW)))
    assert model.training and all(v.dtype == before[k].dtype for k, v in model.state_dict().items())
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())  # BN statistics too
    assert runner.module is not model and next(runner.module.parameters()).dtype == (
        torch.float16 if precision == "fp16" else torch.float32)
