"""Fixtures of the deploy tests: tiny models exported once per session."""
from __future__ import annotations

from pathlib import Path

import pytest
from torch import nn

from deploy_testing import export_dynamic_batch, tiny_net


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[nn.Module, Path]]:
    """``{"plain": (module, onnx), "gated": (module, onnx)}``."""
    out = tmp_path_factory.mktemp("tiny-onnx")
    models = {}
    for label, extra in (("plain", False), ("gated", True)):
        module = tiny_net(extra)
        models[label] = (module, export_dynamic_batch(module, out / f"{label}.onnx"))
    return models
