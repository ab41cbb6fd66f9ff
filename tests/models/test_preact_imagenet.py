"""ImageNet pre-activation ResNets: unit layout, the no-pre-activation first unit, head, counts, CMPE-SE."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from model_testing import n_params, run
from recalib import create_model
from recalib.errors import ConfigError
from recalib.models.preact_units import PreActBottleneck, PreActUnit


def meta_model(arch: str, **options: object) -> nn.Module:
    with torch.device("meta"):
        return create_model(arch, **options)


def bn_params(model: nn.Module) -> int:
    return sum(p.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d) for p in m.parameters())


@pytest.mark.parametrize(("depth", "unit"), [(18, PreActUnit), (50, PreActBottleneck), (101, PreActBottleneck)])
def test_same_convolutions_as_the_original_net_but_pre_activation_bns(depth: int, unit: type) -> None:
    """Convs and FC are the original ResNet's; only the BNs move (and projections lose theirs)."""
    preact, original = meta_model(f"preact_resnet{depth}_imagenet"), meta_model(f"resnet{depth}")
    assert n_params(preact) - bn_params(preact) == n_params(original) - bn_params(original)
    units = [u for layer in (preact.layer1, preact.layer2, preact.layer3, preact.layer4) for u in layer]
    assert all(type(u) is unit for u in units)
    # one BN per conv of each unit, read before the conv: the input width of every conv
    expected_bn = 2 * 64  # the stem's BN
    for u in units:
        convs = [u.conv1, u.conv2] + ([u.conv3] if unit is PreActBottleneck else [])
        expected_bn += sum(2 * c.in_channels for c in convs[1:]) + (2 * convs[0].in_channels if u.preactivate else 0)
    expected_bn += 2 * preact.fc.in_features  # the head's BN
    assert bn_params(preact) == expected_bn


def test_first_unit_does_not_pre_activate_again_after_the_stem() -> None:
    model = meta_model("preact_resnet50_imagenet")
    first, second = model.layer1[0], model.layer1[1]
    assert not first.preactivate and isinstance(first.bn1, nn.Identity)
    assert second.preactivate and isinstance(second.bn1, nn.BatchNorm2d)
    assert all(u.preactivate for layer in (model.layer2, model.layer3, model.layer4) for u in layer)
    assert isinstance(model.head[0], nn.BatchNorm2d) and isinstance(model.head[1], nn.ReLU)
    assert isinstance(model.layer2[0].shortcut, nn.Conv2d)  # projection without BN
    assert model.layer2[0].conv2.stride == (2, 2) and model.layer2[0].conv1.stride == (1, 1)


def test_first_unit_reads_the_stem_output_unchanged() -> None:
    model = create_model("preact_resnet50_imagenet").eval()
    unit, seen = model.layer1[0], {}
    model.maxpool.register_forward_hook(lambda m, a, out: seen.__setitem__("stem", out))
    unit.conv1.register_forward_pre_hook(lambda m, args: seen.__setitem__("conv1", args[0]))
    unit.shortcut.register_forward_pre_hook(lambda m, args: seen.__setitem__("shortcut", args[0]))
    run(model, (64, 64))
    assert seen["conv1"] is seen["stem"] and seen["shortcut"] is seen["stem"]


def test_cmpe_se_receives_the_projected_identity_and_the_bottleneck_width() -> None:
    model = meta_model("preact_resnet50_imagenet", block="cmpe-se-double-fc").eval()
    unit, seen = model.layer3[0], {}
    unit.shortcut.register_forward_hook(lambda m, a, out: seen.__setitem__("shortcut", out))
    unit.recal.register_forward_pre_hook(lambda m, args: seen.__setitem__("args", args))
    unit.conv3.register_forward_hook(lambda m, a, out: seen.__setitem__("conv3", out))
    model(torch.empty(1, 3, 64, 64, device="meta"))
    residual, identity = seen["args"]
    assert identity is seen["shortcut"] and residual is seen["conv3"]
    assert residual.shape == identity.shape == (1, 1024, 4, 4)
    assert [b.channels for b in model.recalibration_blocks()] == [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3


def test_trains_with_a_block_and_runs_at_the_nominal_size() -> None:
    model = create_model("preact_resnet18_imagenet", block="se")
    model.train()
    loss = model(torch.randn(2, 3, 64, 64)).logsumexp(1).mean()
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert run(create_model("preact_resnet18_imagenet")).shape == (1, 1000)


def test_unknown_depth_is_a_config_error() -> None:
    from recalib.models.resnet import build_preact_resnet_imagenet
    from recalib.models._insertion import BlockFactory
    with pytest.raises(ConfigError, match="no ImageNet pre-activation ResNet of depth 77"):
        build_preact_resnet_imagenet(block=BlockFactory(), stages=None, depth=77)
