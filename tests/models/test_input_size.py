"""Nominal input sizes: exact feature sizes at odd resolutions, and a clear error at a wrong one."""
from __future__ import annotations

from typing import Any

import pytest
import torch

from model_testing import run
from recalib import arch_entry, create_model
from recalib.errors import ConfigError, ShapeError

# (arch, block, options): models whose blocks are built for fixed feature sizes
BOUND = [("resnet50", "ge-theta", {}), ("shufflenet_v1_g3", "ge-theta-plus", {}), ("resnet18", "ms-sar", {}),
         ("cifar_resnet20", "cc-static", {}), ("densenet_bc100", "ms-sar", {"recalibration": "multi-stage"}),
         ("wrn16_8", "ge-theta", {}), ("cc_vgg_mnist", None, {}), ("cc_vgg_cifar100", "cc-full", {})]


def meta_forward(arch: str, block: str | None, size: tuple[int, int], **options: Any) -> torch.nn.Module:
    with torch.device("meta"):
        model = create_model(arch, block=block, **options).eval()
        model(torch.empty(1, model.in_channels, *size))
    return model


@pytest.mark.parametrize(("arch", "block", "options"), BOUND, ids=lambda v: v if isinstance(v, str) else "")
def test_wrong_resolution_is_a_clear_error_at_the_model_input(arch: str, block: str | None, options: dict) -> None:
    h, w = arch_entry(arch).input_size
    wrong = (h - 4, w + 8)
    with pytest.raises(ShapeError, match=rf"built for {h}x{w} input .*got {wrong[0]}x{wrong[1]}; "
                                         rf"rebuild with input_size=\({wrong[0]}, {wrong[1]}\)"):
        meta_forward(arch, block, wrong, **options)


@pytest.mark.parametrize(("arch", "block", "options"), BOUND, ids=lambda v: v if isinstance(v, str) else "")
def test_rebuilt_for_an_odd_resolution_every_feature_size_is_exact(arch: str, block: str | None, options: dict) -> None:
    """Odd, non-divisible sizes: each block's own size check passes only if the model's arithmetic is exact."""
    h, w = arch_entry(arch).input_size
    odd = (h + 3, w - 5)
    model = meta_forward(arch, block, odd, input_size=odd, **options)
    assert model.input_size == odd and model.bound_reason is not None


def test_rebuilt_model_runs_at_its_new_resolution() -> None:
    model = create_model("cifar_resnet20", block="ge-theta", input_size=(37, 29))
    assert torch.isfinite(run(model)).all()
    with pytest.raises(ShapeError, match="built for 37x29"):
        run(model, (32, 32))


@pytest.mark.parametrize(("arch", "block", "size"), [
    ("resnet50", None, (40, 56)), ("resnet18", "se", (97, 61)), ("cifar_resnet20", "ge-theta-minus", (40, 24)),
    ("wrn16_8", "ge-theta", (24, 24)), ("preact_resnet20", "cmpe-se-double-fc", (20, 28)),
    ("densenet_bc100", "se", (24, 40))])
def test_models_without_fixed_size_blocks_run_at_any_size(arch: str, block: str | None, size: tuple[int, int]) -> None:
    options = {"ge-theta": {"extent": 2}, "se": {"reduction": 4}}.get(block or "", {})  # k = 12 < 16 in DenseNet
    model = create_model(arch, block=block, **options)
    assert model.bound_reason is None
    out = run(model, size)
    assert out.dim() == 2 and torch.isfinite(out).all()


def test_wrong_channel_count_is_a_shape_error() -> None:
    with pytest.raises(ShapeError, match=r"expects \(N, 1, H, W\)"):
        create_model("cc_vgg_mnist")(torch.randn(1, 3, 28, 28))


@pytest.mark.parametrize("bad", [(0, 32), 32, (32, 32, 3), (32.0, 32)])
def test_invalid_input_size_is_a_config_error(bad: Any) -> None:
    with pytest.raises(ConfigError, match="input_size"):
        create_model("cifar_resnet20", input_size=bad)


@pytest.mark.parametrize("arch", ["resnet50", "shufflenet_v1_g3", "cifar_resnet20", "densenet_bc100", "cc_vgg_mnist"])
def test_model_exposes_its_nominal_input_size(arch: str) -> None:
    with torch.device("meta"):
        model = create_model(arch)
    assert model.input_size == arch_entry(arch).input_size and model.in_channels == arch_entry(arch).in_channels
