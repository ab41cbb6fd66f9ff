"""EfficientNet-B0: the published counts, its SiLU SE gate in every unit, and timm's network exactly."""
from __future__ import annotations

import torch

from model_testing import assert_computes_the_same, macs_on_meta, n_params
from recalib import create_model
from recalib.blocks.se import SqueezeExcite


def meta(block: str | None = None, **options: object) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model("efficientnet_b0", block, **options)


def test_parameters_and_macs_match_the_published_figures() -> None:
    """torchvision's weights table (from timm): 5,288,548 parameters, 0.386 GFLOPS (multiply-adds);
    Tan & Le 2019 Table 2: 5.3M and 0.39B FLOPS (MnasNet's and EfficientNet's FLOPS are multiply-adds)."""
    model = meta()
    macs = macs_on_meta(model)
    assert n_params(model) == 5_288_548 and round(n_params(model) / 1e6, 1) == 5.3
    assert round(macs / 1e9, 3) == 0.386 and round(macs / 1e9, 2) == 0.39


def test_every_unit_is_gated_after_its_depthwise_conv_with_a_quarter_of_its_input_channels() -> None:
    units = [unit for stage in meta().stages for unit in stage]
    gates = [unit.recal for unit in units]
    assert len(gates) == 16 and all(isinstance(g, SqueezeExcite) for g in gates)
    inputs = [32, 16, 24, 24, 40, 40, 80, 80, 80, 112, 112, 112, 192, 192, 192, 192]
    assert [g.mlp.hidden for g in gates] == [c // 4 for c in inputs]
    assert [g.channels for g in gates] == [unit.depthwise[0].out_channels for unit in units]
    assert {type(g.mlp.act).__name__ for g in gates} == {"SiLU"} and {g.gate for g in gates} == {"sigmoid"}


def test_without_gates_it_keeps_the_rest_of_the_network() -> None:
    assert n_params(meta("none")) == 5_288_548 - 636_540 and meta("none").recalibration_blocks() == []


def test_it_computes_what_timms_layout_computes_with_the_same_weights() -> None:
    """``examples/foreign_models.py``'s look-alike of timm's ``efficientnet_b0``, weights copied in order."""
    import foreign_models

    assert_computes_the_same(foreign_models.efficientnet_b0(num_classes=10),
                             create_model("efficientnet_b0", num_classes=10, input_size=(64, 64)))
