"""Runners check inputs against the graph's declared dims: wrong sizes fail clearly, not silently."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from recalib import export
from recalib.export.options import ExportOptions
from recalib.errors import ShapeError


@pytest.fixture(scope="module")
def exported_224(tmp_path_factory):
    """A tiny classifier exported at 3x224x224 with a dynamic batch."""
    model = nn.Sequential(nn.Conv2d(3, 4, 8, stride=8), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()).eval()
    path = tmp_path_factory.mktemp("m") / "m224.onnx"
    export.to_onnx(model, (3, 224, 224), path)
    return path, model


def test_model_exported_at_224_refuses_192_with_a_clear_error(exported_224):
    path, _ = exported_224
    with pytest.raises(ShapeError, match="model exported for 3x224x224, got 3x192x192"):
        export.run_onnx(path, np.zeros((1, 3, 192, 192), np.float32))


def test_any_batch_runs_and_matches_pytorch(exported_224):
    path, model = exported_224
    session = export.ort_session(path)
    for batch in (1, 5):
        x = torch.randn(batch, 3, 224, 224)
        (got,) = export.run_onnx(session, x)
        np.testing.assert_allclose(got, model(x).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_wrong_rank_and_static_batch_are_refused(exported_224, tmp_path):
    path, model = exported_224
    declared = export.declared_inputs(path)
    assert declared == [("input", ["batch", 3, 224, 224])]
    with pytest.raises(ShapeError, match="rank 4"):
        export.validate_inputs(declared, {"input": np.zeros((3, 224, 224))})
    static = tmp_path / "static.onnx"
    export.to_onnx(model, (2, 3, 224, 224), static, ExportOptions(fixed_batch=2))
    assert export.declared_inputs(static) == [("input", [2, 3, 224, 224])]
    with pytest.raises(ShapeError, match="exported for batch 2, got batch 1.*without --fixed-batch"):
        export.run_onnx(static, np.zeros((1, 3, 224, 224), np.float32))
