"""RegNetY-800MF: torchvision's and the paper's (pycls's) counts, and an SE gate in every unit."""
from __future__ import annotations

import pytest
import torch

from model_testing import macs_on_meta, n_params, run
from recalib import create_model
from recalib.blocks.se import SqueezeExcite
from recalib.errors import ConfigError


def meta(block: str | None = None, **options: object) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model("regnet_y_800mf", block, **options)


def test_parameters_and_macs_match_torchvision() -> None:
    """torchvision's ``RegNet_Y_800MF_Weights``: 6,432,512 parameters, 0.834 GFLOPS (multiply-adds)."""
    model = meta()
    assert n_params(model) == 6_432_512 and round(macs_on_meta(model) / 1e9, 3) == 0.834


def test_pycls_rounding_gives_the_papers_network() -> None:
    """Radosavovic et al. 2020 (pycls MODEL_ZOO, RegNetY-800MF): 6.3M parameters, 0.8 GF (multiply-adds)."""
    model = meta(rounding="pycls")
    assert [stage[0].c[0].out_channels for stage in model.stages] == [64, 128, 320, 768]
    assert n_params(model) == 6_263_168 and round(n_params(model) / 1e6, 1) == 6.3
    assert round(macs_on_meta(model) / 1e9, 1) == 0.8
    with pytest.raises(ConfigError, match="option rounding must be one of 'torchvision', 'pycls', got the str 'numpy'"):
        meta(rounding="numpy")


def test_every_unit_is_gated_after_its_group_conv_with_a_quarter_of_its_input_width() -> None:
    units = [unit for stage in meta().stages for unit in stage]
    assert [len(stage) for stage in meta().stages] == [1, 3, 8, 2]
    assert all(isinstance(u.recal, SqueezeExcite) for u in units)
    inputs = [32, 64, 144, 144, 144, *[320] * 7, 320, 784]
    assert [u.recal.mlp.hidden for u in units] == [c // 4 for c in inputs]
    assert [u.b[0].groups for u in units] == [u.b[0].out_channels // 16 for u in units]
    assert n_params(meta("none")) == 6_432_512 - 846_168


def test_runs_at_another_size() -> None:
    assert run(create_model("regnet_y_800mf", num_classes=10), (40, 56)).shape == (1, 10)
