"""The look-alikes of timm's and torchvision's networks have their libraries' structure and size."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import foreign_models as fm

# The libraries' own counts: timm's model cards (seresnet50 28.09 M, efficientnet_b0 5.29 M) and
# torchvision's weights tables (MobileNet_V3_Large_Weights: 5,483,032).
PUBLISHED = {"seresnet50": 28_088_024, "efficientnet_b0": 5_288_548, "mobilenet_v3_large": 5_483_032}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_full_size_factories_have_the_libraries_parameter_counts(name: str) -> None:
    with torch.device("meta"):
        model = getattr(fm, name)()
    assert sum(p.numel() for p in model.parameters()) == PUBLISHED[name]
    assert model.default_input_size == (3, 224, 224)


@pytest.mark.parametrize("factory, gate, count", [
    (lambda: fm.seresnet50(width=0.25, depth=0.3), fm.SEModule, 6),
    (lambda: fm.efficientnet_b0(width=0.5, depth=0.3), fm.SqueezeExcite, 8),
    (lambda: fm.mobilenet_v3_large(width=0.5), fm.SqueezeExcitation, 8),
    (lambda: fm.ecaresnet(width=0.25, depth=0.3), fm.EcaModule, 6),
    (lambda: fm.cbam_resnet(width=0.25, depth=0.3), fm.ChannelAttention, 6),
])
def test_small_versions_keep_the_structure_and_run(factory, gate: type[nn.Module], count: int) -> None:
    model = factory().eval()
    assert sum(isinstance(m, gate) for m in model.modules()) == count
    with torch.no_grad():
        assert model(torch.randn(2, 3, 64, 64)).shape == (2, 1000)


def test_efficientnet_norms_are_batchnorm_subclasses_that_also_activate() -> None:
    norm = fm.BatchNormAct2d(4).eval()
    assert isinstance(norm, nn.BatchNorm2d)
    x = torch.randn(1, 4, 3, 3)
    torch.testing.assert_close(norm(x), nn.functional.silu(nn.BatchNorm2d.forward(norm, x)))


def test_timm_style_resnets_start_with_their_last_norm_at_zero() -> None:
    model = fm.seresnet50(width=0.25, depth=0.3)
    assert all(float(b.bn3.weight.abs().max()) == 0.0 for b in model.modules() if isinstance(b, fm.Bottleneck))
