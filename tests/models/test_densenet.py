"""DenseNet-BC: counts, recalibration of the new channels before concatenation, both modes."""
from __future__ import annotations

import pytest
import torch

from model_testing import n_params
from recalib import create_model
from recalib.errors import ConfigError


@pytest.mark.parametrize(("arch", "exact", "paper"), [("densenet_bc100", 769_162, 0.8),  # MS-SAR Table 2
                                                      ("densenet_bc190", 25_624_430, 25.6)])  # Huang et al.
def test_parameter_count_matches_the_papers(arch: str, exact: int, paper: float) -> None:
    with torch.device("meta"):
        count = n_params(create_model(arch))
    assert count == exact and round(count / 1e6, 1) == paper


def test_multi_stage_gates_come_from_the_main_vector() -> None:
    with torch.device("meta"):
        model = create_model("densenet_bc100", block="ms-sar", recalibration="multi-stage").eval()
    layer, seen = model.dense2[3], {}
    layer.register_forward_pre_hook(lambda m, args: seen.__setitem__("input", args[0]))
    layer.recal.register_forward_pre_hook(lambda m, args, kwargs: seen.__setitem__("call", (args, kwargs)),
                                          with_kwargs=True)
    model(torch.empty(1, 3, 32, 32, device="meta"))
    (new,), kwargs = seen["call"]
    assert kwargs["source"] is seen["input"]  # the dense layer's input, not a copy or a slice
    assert new.shape == (1, 12, 16, 16) and seen["input"].shape == (1, 108 + 3 * 12, 16, 16)
    assert layer.recal.source_channels == 144


def test_single_stage_gates_come_from_the_new_channels() -> None:
    with torch.device("meta"):
        model = create_model("densenet_bc100", block="ms-sar", recalibration="single-stage")
    assert {b.source_channels for b in model.recalibration_blocks()} == {12}


def test_multi_stage_needs_a_block_that_takes_a_source() -> None:
    with pytest.raises(ConfigError, match="'se'.*multi-stage"):
        create_model("densenet_bc100", block="se", recalibration="multi-stage")
    with pytest.raises(ConfigError, match="single-stage, multi-stage"):
        create_model("densenet_bc100", block="se", recalibration="both")
