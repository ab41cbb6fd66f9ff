"""ShuffleNet v1 1x (g = 3): the GE paper's Table 4 baseline, and the branch insertion point."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from model_testing import n_params, run
from recalib import create_model
from recalib.errors import ConfigError
from recalib.models.shufflenet import channel_shuffle


def test_parameters_and_macs_match_ge_table_4() -> None:
    """1.9M parameters and 137.5 MFLOPs (multiply-adds) at 224×224."""
    with torch.device("meta"):
        model = create_model("shufflenet_v1_g3")
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(1, 3, 224, 224))
    assert n_params(model) == 1_865_728 and round(n_params(model) / 1e6, 1) == 1.9
    assert counter.get_total_flops() / 2e6 == pytest.approx(137.5, abs=0.05)


def test_blocks_see_the_branch_channels_before_the_merge() -> None:
    with torch.device("meta"):
        model = create_model("shufflenet_v1_g3", block="se")
    channels = [b.channels for b in model.recalibration_blocks()]
    assert channels == [240 - 24] + [240] * 3 + [480 - 240] + [480] * 7 + [960 - 480] + [960] * 3


def test_channel_shuffle_interleaves_groups() -> None:
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]


def test_runs_at_another_size_without_fixed_blocks() -> None:
    assert run(create_model("shufflenet_v1_g3", block="se"), (96, 80)).shape == (1, 1000)


def test_cmpe_se_is_rejected_because_downsampling_units_concatenate() -> None:
    with pytest.raises(ConfigError, match="concatenate"):
        create_model("shufflenet_v1_g3", block="cmpe-se-double-fc")
