"""The look-alikes of timm's and torchvision's networks through recalib's one preparation, named as a user
names them (``examples/foreign_models.py:FACTORY``): folded without losing behaviour, and with random
weights that make their gates matter."""
from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from recalib.export.options import PrepareOptions
from recalib.export.prepare import build, prepare
from recalib.spec import parse_spec

FILE = Path(__file__).resolve().parents[2] / "examples" / "foreign_models.py"


def _without(model: nn.Module, gate: str) -> nn.Module:
    """``model`` with every module of class ``gate`` replaced by the identity (a gate of ones)."""
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child).__name__ == gate:
                setattr(parent, name, nn.Identity())
    return model


EFFICIENTNET = f"{FILE}:efficientnet_b0:width=0.25,depth=0.2"


def test_efficientnet_folds_with_every_activation_of_its_norms_kept() -> None:
    """Issue 21: folding replaced timm's BatchNormAct2d by Identity and lost its SiLU (a 1.2e8 change)."""
    prepared = build(parse_spec(EFFICIENTNET).with_input_size((32, 32)))
    assert prepared.module is not None and prepared.derived is not None
    norms = [m for m in prepared.module.modules() if type(m).__name__ == "BatchNormAct2d"]
    activating = sum(isinstance(norm.act, nn.SiLU) for norm in norms)
    assert len(norms) == 22 and activating == 15  # the projections' norms have no activation
    result = prepared.derived.folded()
    assert len(result.actions) == len(norms) and result.max_rel_error < 1e-12
    assert all(" BatchNormAct2d folded into " in a for a in result.actions)
    assert sum(a.endswith(", its SiLU kept") for a in result.actions) == activating
    assert not any(type(m).__name__ == "BatchNormAct2d" for m in result.model.modules())
    assert sum(isinstance(m, nn.SiLU) for m in result.model.modules()) == activating + 7  # and the SE's own


@pytest.mark.slow
def test_efficientnet_exports_folded_and_verified(tmp_path: Path) -> None:
    done = prepare(parse_spec(EFFICIENTNET).with_input_size((32, 32)), tmp_path / "eff.onnx")
    assert done.report is not None and done.report.max_rel_error < 1e-4
    graph = [n.op_type for n in onnx.load(str(tmp_path / "eff.onnx")).graph.node]
    assert "BatchNormalization" not in graph and len(done.report.folding) == 22


def test_a_zero_init_last_se_resnet_gets_weights_under_which_its_gates_matter() -> None:
    """timm's zero_init_last: with the last norm of each branch at zero, the gate-ablated model equals the
    original, so parity and ablation would prove nothing. Preparation redraws those norms and says so."""
    spec = parse_spec(f"{FILE}:seresnet50:width=0.125,depth=0.3").with_input_size((32, 32))
    x = torch.randn(2, 3, 32, 32)
    as_built = [torch.manual_seed(0) and spec.create().eval() for _ in range(2)]
    with torch.no_grad():
        assert torch.equal(_without(as_built[0], "SEModule")(x), as_built[1](x))  # the premise
    prepared = build(spec, PrepareOptions(calibrate=False))
    assert prepared.weights["zero_weights"].startswith("6 all-zero weight(s) redrawn (seed 0; e.g. layer1.0.bn3.weight)")
    calibrated = build(spec).module
    assert calibrated is not None
    with torch.no_grad():
        full = calibrated(x)
        ablated = _without(calibrated, "SEModule")(x)
    assert float((full - ablated).abs().max()) > 1e-2 * float(full.abs().max())
