"""The CC paper's VGG-style nets (its Table 1): shapes, widths, block after every conv."""
from __future__ import annotations

import pytest
import torch

from model_testing import n_params, run
from recalib import create_model
from recalib.errors import ConfigError
from recalib.models.cc_vgg import WIDTHS


@pytest.mark.parametrize(("arch", "convs", "final"), [
    ("cc_vgg_mnist", [48, 192], (192, 2, 2)), ("cc_vgg_cifar10", [48, 96, 192, 384], (384, 2, 2)),
    ("cc_vgg_cifar100", [48, 48, 96, 96, 192, 192, 384, 384], (384, 2, 2))])
def test_layout_reproduces_table_1_output_shapes(arch: str, convs: list[int], final: tuple[int, int, int]) -> None:
    model = create_model(arch)
    assert [m.out_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)] == convs
    head = model.head[1]
    assert head.in_features == final[0] * final[1] * final[2] and head.out_features == 128


def test_cifar100_net_at_width_32_has_table_3_baseline_parameters() -> None:
    assert n_params(create_model("cc_vgg_cifar100", first_width=32)) == 1_316_356  # 1.3M


@pytest.mark.parametrize("width", WIDTHS)
def test_every_paper_width_runs_with_a_block_after_every_conv(width: int) -> None:
    model = create_model("cc_vgg_cifar10", block="cc-reduced", first_width=width)
    assert len(model.recalibration_blocks()) == 4
    assert run(model, batch=2).shape == (2, 10)


def test_block_gates_the_relu_output() -> None:
    model, seen = create_model("cc_vgg_mnist", block="cc-static"), []
    for block in model.recalibration_blocks():
        block.register_forward_pre_hook(lambda m, args: seen.append(float(args[0].min())))
    run(model)
    assert len(seen) == 2 and min(seen) >= 0


def test_width_outside_the_papers_sweep_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="first_width"):
        create_model("cc_vgg_mnist", first_width=3)
