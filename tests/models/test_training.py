"""Training-ready: gradients reach every parameter, standard init, BN modes, state_dict round trip."""
from __future__ import annotations

import math

import pytest
import torch

from recalib import create_model
from recalib.errors import ShapeError


@pytest.mark.parametrize(("arch", "block", "options", "size"), [
    ("cifar_resnet20", "ms-sar", {}, None), ("preact_resnet110", "cmpe-se-pair-2x1", {}, (16, 16)),
    ("shufflenet_v1_g3", "ge-theta-plus", {"input_size": (32, 32)}, None), ("cc_vgg_cifar10", "cc-full", {}, None),
    ("resnet18", "se", {}, (64, 64))], ids=lambda v: v if isinstance(v, str) else "")
def test_gradients_reach_every_parameter(arch: str, block: str, options: dict, size: tuple[int, int] | None) -> None:
    model = create_model(arch, block=block, **options).train()
    h, w = size or model.input_size
    model(torch.randn(2, model.in_channels, h, w)).logsumexp(1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing


def test_convolutions_get_kaiming_fan_out_and_bn_starts_at_identity() -> None:
    model = create_model("wrn16_8")
    conv = model.layer3[0].conv2  # 512 → 512, 3×3: std = sqrt(2 / (512·9))
    assert float(conv.weight.detach().std()) == pytest.approx(math.sqrt(2 / (512 * 9)), rel=0.02)
    bn = model.layer3[0].bn2
    assert bn.weight.detach().eq(1).all() and bn.bias.detach().eq(0).all()


@pytest.mark.parametrize(("arch", "block", "options"), [
    ("cifar_resnet20", "ms-sar", {}), ("cc_vgg_mnist", "cc-static", {})], ids=lambda v: v if isinstance(v, str) else "")
def test_state_dict_round_trip_reproduces_outputs(arch: str, block: str, options: dict) -> None:
    source, target = create_model(arch, block=block, **options), create_model(arch, block=block, **options)
    source.train()(torch.randn(2, source.in_channels, *source.input_size))  # move the BN statistics
    target.load_state_dict(source.state_dict())
    x = torch.randn(1, source.in_channels, *source.input_size)
    source.eval(), target.eval()
    with torch.inference_mode():
        torch.testing.assert_close(target(x), source(x))


def test_eval_mode_is_batch_independent() -> None:
    model = create_model("preact_resnet164", block="se").eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.inference_mode():
        torch.testing.assert_close(model(x[:1]), model(x)[:1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("arch", "block", "options"), [
    ("cifar_resnet20", "ms-sar", {}),
    ("shufflenet_v1_g3", "ge-theta-plus", {"input_size": (112, 112), "extent": 4})],  # 4x4 stage 3 -> 1x1
    ids=lambda v: v if isinstance(v, str) else "")
def test_training_at_batch_one_is_refused_naming_the_block(arch: str, block: str, options: dict) -> None:
    """Not PyTorch's "Expected more than 1 value per channel when training", which names nothing."""
    model = create_model(arch, block=block, **options).train()
    with pytest.raises(ShapeError, match=rf"^{block}: .*batch of at least 2, or call .eval\(\)"):
        model(torch.randn(1, 3, *model.input_size))
    assert model.eval()(torch.randn(1, 3, *model.input_size)).shape == (1, model.fc.out_features)
