"""``recalib.deploy.runner.opener``: what an export is verified on, with a runtime's own errors turned into ours."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from recalib import export
from recalib.deploy.runner import opener
from recalib.deploy.runner_options import RunnerOptions
from recalib.errors import VerificationError


def test_an_opener_runs_the_file_on_its_runtime(tmp_path) -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten()).eval()
    export.to_onnx(model, (3, 5, 5), tmp_path / "m.onnx")
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5), dtype=np.float32)
    (out,) = opener("ort-cpu", RunnerOptions(threads=1))(tmp_path / "m.onnx")(x)
    with torch.no_grad():
        np.testing.assert_allclose(out, model(torch.from_numpy(x)).numpy(), rtol=1e-5, atol=1e-5)


def test_a_file_the_runtime_cannot_load_is_a_verification_error(tmp_path) -> None:
    """A well-formed ONNX file (read_onnx takes it) with an op onnxruntime does not know."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("NoSuchOp", ["x"], ["y"])], "g", [x], [y])
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), str(path))
    with pytest.raises(VerificationError, match="ort-cpu cannot load the exported graph m.onnx"):
        opener("ort-cpu")(path)
