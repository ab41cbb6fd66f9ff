"""ImageNet ResNets and ResNeXt: exact parameter counts, stride placement, names, insertion points."""
from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from model_testing import n_params, run
from recalib import create_model
from recalib.errors import ConfigError

# torchvision's (and the official Caffe models') exact totals with 1000 classes
BASELINES = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
             "resnet101": 44_549_160, "resnet152": 60_192_808, "resnext50_32x4d": 25_028_904}


def meta_model(arch: str, **options: object) -> torch.nn.Module:
    with torch.device("meta"):
        return create_model(arch, **options)


def macs(model: torch.nn.Module, size: tuple[int, int] = (224, 224)) -> float:
    """Multiply-adds of one forward (torch's counter counts 2 FLOPs per multiply-add)."""
    with FlopCounterMode(display=False) as counter, torch.device("meta"):
        model(torch.empty(1, 3, *size))
    return counter.get_total_flops() / 2


@pytest.mark.parametrize(("arch", "expected"), BASELINES.items())
def test_baseline_parameter_count_is_exact(arch: str, expected: int) -> None:
    assert n_params(meta_model(arch)) == expected


def test_stride_in_1x1_changes_flops_but_not_parameters() -> None:
    """SE paper: ResNet-50 is 3.86 GMACs in the Caffe layout; torchvision's is 4.09 GMACs."""
    torchvision_layout, caffe_layout = meta_model("resnet50"), meta_model("resnet50", stride_in_1x1=True)
    assert n_params(torchvision_layout) == n_params(caffe_layout)
    assert macs(torchvision_layout) / 1e9 == pytest.approx(4.09, abs=0.005)
    assert macs(caffe_layout) / 1e9 == pytest.approx(3.86, abs=0.005)
    assert caffe_layout.layer2[0].conv1.stride == (2, 2) and caffe_layout.layer2[0].conv2.stride == (1, 1)


def test_module_names_follow_torchvision() -> None:
    keys = meta_model("resnet50").state_dict().keys()
    for key in ("conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.bias",
                "layer4.2.conv3.weight", "layer4.2.bn3.num_batches_tracked", "fc.weight", "fc.bias"):
        assert key in keys


def test_se_sits_after_the_last_bn_of_every_bottleneck() -> None:
    model = meta_model("resnet50", block="se").eval()
    units = [u for layer in (model.layer1, model.layer2, model.layer3, model.layer4) for u in layer]
    assert [u.recal.channels for u in units] == [256] * 3 + [512] * 4 + [1024] * 6 + [2048] * 3
    unit, seen = model.layer2[0], {}
    unit.bn3.register_forward_hook(lambda m, a, out: seen.__setitem__("bn3", out))
    unit.recal.register_forward_pre_hook(lambda m, args: seen.__setitem__("recal", args[0]))
    model(torch.empty(1, 3, 64, 64, device="meta"))
    assert seen["recal"] is seen["bn3"]


def test_cmpe_se_receives_the_projected_identity() -> None:
    model = meta_model("resnet18", block="cmpe-se-pair-1x1").eval()
    unit, seen = model.layer3[0], {}
    unit.downsample.register_forward_hook(lambda m, a, out: seen.__setitem__("shortcut", out))
    unit.recal.register_forward_pre_hook(lambda m, args: seen.__setitem__("args", args))
    model(torch.empty(1, 3, 64, 64, device="meta"))
    residual, identity = seen["args"]
    assert identity is seen["shortcut"]
    assert residual.shape == identity.shape == (1, 256, 4, 4)


def test_resnext_runs_with_32_groups_of_4_channels() -> None:
    model = create_model("resnext50_32x4d")
    assert model.layer1[0].conv2.groups == 32 and model.layer1[0].conv2.out_channels == 128
    assert run(model, (64, 64)).shape == (1, 1000)


def test_zero_init_residual_zeroes_each_branch_last_bn() -> None:
    model = create_model("resnet18", zero_init_residual=True)
    assert all(float(u.bn2.weight.detach().abs().sum()) == 0 for layer in (model.layer1, model.layer4) for u in layer)
    assert float(create_model("resnet18").layer1[0].bn2.weight.detach().sum()) == 64


def test_invalid_layouts_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="basic units"):
        create_model("resnet18", groups=32)
    with pytest.raises(ConfigError, match="fixes depth=50"):
        create_model("resnet50", depth=101)


def test_block_after_the_second_conv_recalibrates_the_inner_width() -> None:
    """MS-SAR Sec. 4.3's literal "after the second convolutional layer": ResNeXt's grouped 3×3 (inner width 128…1024)."""
    model = create_model("resnext50_32x4d", block="se", block_after="second", reduction=16)
    assert [model.layer1[0].recal.channels, model.layer4[0].recal.channels] == [128, 1024]
    # SE on the inner widths: 3·(2·128·8 + 8 + 128) + 4·(2·256·16 + 272) + 6·(2·512·32 + 544) + 3·(2·1024·64 + 1088)
    assert n_params(model) - BASELINES["resnext50_32x4d"] == 636_760
    assert n_params(meta_model("resnext50_32x4d", block="se")) - BASELINES["resnext50_32x4d"] == 2_530_992
    assert run(model, (64, 64)).shape == (1, 1000)
    with pytest.raises(ConfigError, match="block_after='last'"):
        create_model("resnet50", block="cmpe-se-pair-1x1", block_after="second")
