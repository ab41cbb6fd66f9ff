"""The model record: one typed, hashable description of a model to build, and the one input-size rule."""
from __future__ import annotations

import copy
import pickle
import re

import pytest
import torch

import recalib
from recalib.errors import CheckpointError, UnknownNameError
from recalib.record import ModelRecord


def test_equal_records_hash_alike_whatever_the_order_of_options_and_stages() -> None:
    a = ModelRecord("resnet50", "ms-sar", {"scales": [1, 2], "reduction": 8}, (4, 3, 4))
    b = ModelRecord("resnet50", "ms-sar", {"reduction": 8, "scales": (1, 2)}, (3, 4))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.options["scales"] == (1, 2) and a.stages == (3, 4)
    assert a != b.with_options({"reduction": 16})


def test_a_record_reads_back_from_its_repr() -> None:
    record = ModelRecord("resnet50", "se", {"reduction": 8}, (3, 4))
    assert repr(record) == "ModelRecord('resnet50', 'se', {'reduction': 8}, (3, 4))" and eval(repr(record)) == record


def test_options_cannot_be_changed_in_place() -> None:
    record = ModelRecord("resnet50", "se", {"reduction": 8})
    with pytest.raises(TypeError):
        record.options["reduction"] = 4  # type: ignore[index]


@pytest.mark.parametrize("options, chw", [({}, (3, 32, 32)), ({"input_size": 48}, (3, 48, 48)),
                                          ({"input_size": (40, 24)}, (3, 40, 24)), ({"input_size": None}, (3, 32, 32))])
def test_the_input_is_the_input_size_option_else_the_nominal_size(options: dict, chw: tuple) -> None:
    assert ModelRecord("cifar_resnet20", None, options).input_chw() == chw


def test_the_input_channels_come_from_the_architecture() -> None:
    assert ModelRecord("cc_vgg_mnist").input_chw() == (1, 28, 28)
    with pytest.raises(UnknownNameError, match="unknown model 'resnet5'"):
        ModelRecord("resnet5").input_chw()


def test_a_built_model_carries_the_record_of_every_option_it_was_built_with() -> None:
    model = ModelRecord("cifar_resnet20", "se", {"reduction": 4}, (3,)).create()
    every = {"reduction": 4, "pool": "avg", "activation": "relu", "gate": "sigmoid", "hidden_from": "channels",
             "round_to": 1, "bias": True}
    assert model.recalib_record == ModelRecord("cifar_resnet20", "se", every, (3,))
    assert sum(type(m).__name__ == "SqueezeExcite" for m in model.modules()) == 3
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_a_meta_build_has_every_shape_and_no_memory() -> None:
    model = ModelRecord("resnet50", "se").create_on_meta()
    assert all(p.is_meta for p in model.parameters()) and model.recalib_record.block == "se"
    assert model.fc.weight.shape == (1000, 2048)


def test_the_record_survives_pickling_and_copying_with_its_model() -> None:
    model = recalib.create_model("cifar_resnet20", "ms-sar", scales=(1, 2))
    for copied in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        assert copied.recalib_record == model.recalib_record


def test_without_block_keeps_the_backbone_options_only() -> None:
    record = ModelRecord("resnet50", "se", {"reduction": 8, "stride_in_1x1": True}, (3, 4))
    assert record.without_block() == ModelRecord("resnet50", None, {"stride_in_1x1": True})


def test_canonical_drops_backbone_defaults_only_without_a_block() -> None:
    plain = ModelRecord("resnet50", None, {"stride_in_1x1": False, "num_classes": 10})
    assert plain.canonical() == ModelRecord("resnet50", None, {"num_classes": 10})
    with_block = ModelRecord("resnet50", "se", {"stride_in_1x1": False})
    assert with_block.canonical() is with_block


def test_describe_names_the_network_with_its_options_sorted() -> None:
    record = ModelRecord("resnet50", "se", {"reduction": 8, "num_classes": 10}, (4, 3))
    assert record.describe() == "resnet50 +se num_classes=10 reduction=8 stages=[3, 4]"


def test_json_round_trips_with_lists_for_tuples() -> None:
    record = ModelRecord("cifar_resnet20", "ms-sar", {"scales": (1, 2)}, (2,))
    data = record.to_json()
    assert data == {"arch": "cifar_resnet20", "block": "ms-sar", "stages": [2], "options": {"scales": [1, 2]}}
    assert ModelRecord.from_json(data, "here") == record


@pytest.mark.parametrize("data, message", [
    ([1], "here: the stored spec is a JSON list, not an object"),
    ({"arch": "cifar_resnet20", "block": 3}, "no valid block (got 3)"),
    ({"arch": "cifar_resnet20", "stages": [True]}, "no valid stages"),
])
def test_json_that_is_not_a_record_says_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(CheckpointError, match=re.escape(message)):
        ModelRecord.from_json(data, "here")
