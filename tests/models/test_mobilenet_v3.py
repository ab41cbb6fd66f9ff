"""MobileNetV3-Large 1.0: the published counts, its hard-sigmoid SE where the paper puts it, and
torchvision's network exactly."""
from __future__ import annotations

import pytest
import torch

from model_testing import assert_computes_the_same, macs_on_meta, n_params
from recalib import create_model
from recalib.blocks.se import SqueezeExcite
from recalib.errors import ConfigError


def meta(block: str | None = None, **options: object) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model("mobilenet_v3_large", block, **options)


def test_parameters_and_macs_match_the_published_figures() -> None:
    """torchvision's weights table: 5,483,032 parameters and 0.217 GFLOPS (multiply-adds); Howard et al.
    2019 Table 3: 5.4M parameters (its 219M MAdds is 1.1% above any multiply-add count of the layout)."""
    model = meta()
    macs = macs_on_meta(model)
    assert n_params(model) == 5_483_032 and int(n_params(model) / 1e5) / 10 == 5.4
    assert round(macs / 1e9, 3) == 0.217 and macs == pytest.approx(219e6, rel=0.012)


def test_eight_units_are_gated_with_a_hard_sigmoid_and_widths_rounded_to_eight() -> None:
    units = [unit for stage in meta().stages for unit in stage]
    gated = [index for index, unit in enumerate(units) if isinstance(unit.recal, SqueezeExcite)]
    assert gated == [3, 4, 5, 10, 11, 12, 13, 14]  # the paper's Table 1 "SE" column
    gates = [units[index].recal for index in gated]
    assert [g.channels for g in gates] == [72, 120, 120, 480, 672, 672, 960, 960]
    assert [g.mlp.hidden for g in gates] == [24, 32, 32, 120, 168, 168, 240, 240]
    assert {g.gate for g in gates} == {"hard-sigmoid"} and {type(g.mlp.act).__name__ for g in gates} == {"ReLU"}


def test_another_block_goes_exactly_where_the_native_gates_were() -> None:
    model = meta("ge-theta-minus")
    assert [name.split(".")[1:3] for name, m in model.named_modules() if m in model.recalibration_blocks()] == [
        ["2", "0"], ["2", "1"], ["2", "2"], ["3", "4"], ["3", "5"], ["4", "0"], ["4", "1"], ["4", "2"]]
    assert n_params(meta("none")) == 5_483_032 - 1_512_280 == n_params(model)


def test_stages_without_a_gate_point_are_refused_naming_those_with_one() -> None:
    assert len(meta("se", stages=[2, 3]).recalibration_blocks()) == 3
    with pytest.raises(ConfigError, match=r"stages \[1, 2\] hold no gate point; the paper gates units of stages "
                                          r"\[3, 4, 5\]"):
        meta("se", stages=[1, 2])


def test_it_computes_what_torchvisions_layout_computes_with_the_same_weights() -> None:
    """``examples/foreign_models.py``'s look-alike of torchvision's ``mobilenet_v3_large``, weights copied in order."""
    import foreign_models

    assert_computes_the_same(foreign_models.mobilenet_v3_large(num_classes=10),
                             create_model("mobilenet_v3_large", num_classes=10, input_size=(64, 64)))
