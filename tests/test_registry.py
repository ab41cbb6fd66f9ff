"""A user's own blocks and architectures, registered with recalib.registry, work everywhere a library one does."""
from __future__ import annotations

import pytest
import torch

import recalib
from recalib.blocks import BLOCKS
from recalib.blocks.se import SqueezeExcite
from recalib.errors import ConfigError
from recalib.models import MODELS
from recalib.models.cifar_resnet import build_cifar_resnet
from recalib.registry import register_block, register_model
from recalib.spec import parse_spec


@pytest.fixture(autouse=True)
def _restored_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a test registers is forgotten after it: other tests list and build every entry."""
    for registry in (BLOCKS, MODELS):
        monkeypatch.setattr(registry, "_entries", dict(registry._entries))


def test_a_registered_architecture_builds_from_the_api_and_from_a_specification() -> None:
    entry = register_model("my_resnet8", build_cifar_resnet, paper="mine", summary="a tiny ResNet",
                           input_size=(16, 16), dataset="cifar", fixed={"depth": 8})
    assert recalib.arch_entry("my_resnet8") is entry and "my_resnet8" in recalib.list_models()
    model = parse_spec("my_resnet8:num_classes=3+se:reduction=4").create()
    assert model(torch.randn(2, 3, 16, 16)).shape == (2, 3)
    assert sum(isinstance(m, SqueezeExcite) for m in model.modules()) == 3


def test_a_registered_block_is_inserted_by_name() -> None:
    register_block("my-se", SqueezeExcite, paper="mine", params="as se", summary="SE, under my name",
                   fixed={"pool": "max"})
    model = recalib.create_model("cifar_resnet20", "my-se", reduction=4)
    assert {m.pool for m in model.modules() if isinstance(m, SqueezeExcite)} == {"max"}
    with pytest.raises(ConfigError, match="'my-se' fixes pool='max'"):
        recalib.create_model("cifar_resnet20", "my-se", pool="avg")


def test_a_name_is_registered_once() -> None:
    with pytest.raises(ConfigError, match="model 'resnet50' is registered twice"):
        register_model("resnet50", build_cifar_resnet, paper="mine", summary="", input_size=(32, 32), dataset="cifar")
