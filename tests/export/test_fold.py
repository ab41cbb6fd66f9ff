"""recalib.fold: BN into conv, constant maps into one buffer, scalar gates into weights."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from recalib import export
import recalib
from export_helpers import ops, randomize
from recalib.blocks import create_block
from recalib.errors import ConfigError
from recalib.folding import ConstantGate, fold_model

EMP_ARITHMETIC = {"Tanh", "Sigmoid", "Sin", "Cos", "Exp", "Div", "Pow", "Sub", "Range", "Gather"}


def _conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out)]


@pytest.mark.parametrize("emp", ["bilinear", "gaussian", "sine"])
def test_static_cc_map_becomes_one_constant_mul(emp, tmp_path):
    block = create_block("cc-static", 8, feat_size=(9, 9), emp=emp)
    model = randomize(nn.Sequential(*_conv_bn(3, 8), nn.ReLU(), block))
    report = export.to_onnx(model, (3, 9, 9), tmp_path / "m.onnx")
    graph_ops = ops(tmp_path / "m.onnx")
    assert graph_ops.count("Mul") == 1 and not EMP_ARITHMETIC & set(graph_ops)
    assert graph_ops == ["Conv", "Relu", "Mul"]  # BN folded too
    assert any("one Mul" in a for a in report.folding)


def test_scalar_static_gate_leaves_no_node(tmp_path):
    model = randomize(nn.Sequential(*_conv_bn(3, 8), nn.ReLU(), create_block("cc-static-scalar", 8)))
    report = export.to_onnx(model, (3, 9, 9), tmp_path / "m.onnx")
    assert ops(tmp_path / "m.onnx") == ["Conv", "Relu"]
    assert any("no node left" in a and "through ReLU" in a for a in report.folding)


def test_scalar_gate_directly_after_conv_is_folded_into_its_weights():
    conv = nn.Conv2d(3, 8, 3, bias=False)
    model = randomize(nn.Sequential(conv, create_block("cc-static-scalar", 8)))
    result = fold_model(model, (3, 9, 9))
    assert isinstance(result.model[1], nn.Identity) and result.model[0].bias is None
    assert result.max_rel_error < 1e-6


def test_gate_whose_input_is_also_used_elsewhere_falls_back_to_one_mul():
    class Skip(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.gate = nn.Conv2d(3, 8, 1), create_block("cc-static-scalar", 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.gate(y) + y  # folding the gate into conv would change the skip path

    result = fold_model(randomize(Skip()), (3, 5, 5))
    assert isinstance(result.model.gate, ConstantGate)
    assert result.actions == ["gate: constant gate 8x1x1 stored as one buffer (one Mul)"]


def test_bn_feeding_a_skip_connection_is_not_folded():
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = _conv_bn(3, 8)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.conv(x)
            return self.bn(y) + y

    result = fold_model(randomize(Twice()), (3, 5, 5))
    assert result.actions == [] and isinstance(result.model.bn, nn.BatchNorm2d)


def test_fold_leaves_the_original_untouched_and_agrees_with_it():
    model = randomize(nn.Sequential(*_conv_bn(3, 8), nn.ReLU(), create_block("cc-static-scalar", 8)))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    folded = recalib.fold(model, (3, 9, 9))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    x = torch.randn(4, 3, 9, 9)
    torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-6)


def test_fold_reads_the_input_shape_from_a_library_model():
    model = randomize(recalib.create_model("cc_vgg_mnist", "cc-static"))
    result = fold_model(model)  # built for 1x28x28: fold finds that in model.recalib_record
    gates = [m for m in model.modules() if hasattr(m, "constant_gate")]
    assert len(result.actions) == len(gates) == 2 and all("one Mul" in a for a in result.actions)
    assert result.max_rel_error < 1e-5


def test_recalib_fold_stays_the_function_after_the_module_is_imported():
    import recalib.folding  # noqa: F401  (binding the submodule must not shadow the function)

    assert isinstance(recalib.fold(nn.Conv2d(3, 3, 1), (3, 4, 4)), nn.Conv2d)
    assert isinstance(recalib.fold(nn.Conv2d(3, 3, 1), (3, 4, 4)), nn.Conv2d)


def test_fold_without_a_known_input_shape_asks_for_one():
    with pytest.raises(ConfigError, match="input_shape"):
        recalib.fold(nn.Conv2d(3, 3, 1))


def test_fold_is_checked_in_float64_and_returns_the_models_dtype():
    model = randomize(nn.Sequential(*_conv_bn(3, 8), create_block("cc-static-scalar", 8)))
    result = fold_model(model, (3, 5, 5))
    assert result.check_dtype == "float64" and result.max_rel_error < 1e-12
    assert {p.dtype for p in result.model.parameters()} == {torch.float32}


def test_a_model_that_cannot_run_in_float64_is_folded_in_its_own_dtype():
    class Float32Only(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv, self.bn = _conv_bn(3, 8)
            self.kernel = torch.ones(8, 8, 1, 1)  # a plain attribute: .double() leaves it float32

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.conv2d(self.bn(self.conv(x)), self.kernel)

    result = fold_model(randomize(Float32Only()), (3, 5, 5))
    assert result.check_dtype == "float32" and result.actions == ["bn: BatchNorm folded into conv"]


class _NormAct(nn.BatchNorm2d):
    """timm's BatchNormAct2d: a BatchNorm2d subclass that then applies its dropout and activation."""

    def __init__(self, channels: int, act: nn.Module) -> None:
        super().__init__(channels)
        self.drop, self.act = nn.Identity(), act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


class _Frozen(nn.Module):
    """timm's FrozenBatchNorm2d: the four tensors as buffers, its own arithmetic, no BatchNorm base class."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.eps = 1e-5
        for name, init in (("weight", torch.ones), ("bias", torch.zeros), ("running_mean", torch.zeros),
                           ("running_var", torch.ones)):
            self.register_buffer(name, init(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        return x * scale.view(1, -1, 1, 1) + (self.bias - self.running_mean * scale).view(1, -1, 1, 1)


class _Doubling(nn.BatchNorm2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 2 * super().forward(x)


def _norms_randomized(model: nn.Module) -> nn.Module:
    """Every norm (frozen ones included) with statistics and affine away from their initial values."""
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "running_var"):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.mark.parametrize("act", [nn.SiLU(), nn.Hardswish(), nn.ReLU(inplace=True)])
def test_a_batch_norm_that_also_activates_folds_and_keeps_its_activation(act: nn.Module) -> None:
    """Issue 21: timm's EfficientNet and RegNetY lost their activations (relative change 1.2e8)."""
    model = _norms_randomized(nn.Sequential(nn.Conv2d(3, 6, 3, bias=False), _NormAct(6, act),
                                            nn.Conv2d(6, 6, 3, groups=6, bias=False), _NormAct(6, nn.Identity())))
    result = fold_model(model, (3, 9, 9))
    name = type(act).__name__
    assert result.actions == [f"1: _NormAct folded into 0, its Identity, {name} kept",
                              "3: _NormAct folded into 2, its Identity, Identity kept"]
    assert not any(isinstance(m, nn.BatchNorm2d) for m in result.model.modules())
    assert sum(isinstance(m, type(act)) for m in result.model.modules()) == 1
    x = torch.randn(2, 3, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(result.model(x), model(x), rtol=1e-5, atol=1e-5)


def test_a_frozen_batch_norm_folds_like_pytorchs() -> None:
    model = _norms_randomized(nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), _Frozen(4), nn.ReLU()))
    result = fold_model(model, (3, 8, 8))
    assert result.actions == ["1: _Frozen folded into 0"] and result.max_rel_error < 1e-12
    assert isinstance(result.model[1], nn.Identity) and result.model[0].bias is not None


def test_a_batch_norm_subclass_that_does_something_else_is_left_as_it_is() -> None:
    model = _norms_randomized(nn.Sequential(nn.Conv2d(3, 4, 3), _Doubling(4)))
    result = fold_model(model, (3, 8, 8))
    assert result.actions == ["1: _Doubling left unfolded (it is not a batch norm followed by its submodules)"]
    assert isinstance(result.model[1], _Doubling) and result.max_rel_error == 0.0


def test_hard_and_smooth_gates_after_a_depthwise_convolution_fold_exactly(tmp_path) -> None:
    """torchvision's MobileNetV3 block: depthwise conv, BN, hard-swish, an SE with a hard-sigmoid gate."""
    class HardGate(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.fc1, self.fc2 = nn.Conv2d(channels, 4, 1), nn.Conv2d(4, channels, 1)
            self.scale_activation = nn.Hardsigmoid()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * self.scale_activation(self.fc2(torch.relu(self.fc1(x.mean((2, 3), keepdim=True)))))

    model = _norms_randomized(nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8, bias=False),
                                            nn.BatchNorm2d(8), nn.Hardswish(), HardGate(8), nn.Conv2d(8, 8, 1),
                                            _NormAct(8, nn.SiLU())))
    report = export.to_onnx(model, (8, 6, 6), tmp_path / "m.onnx")
    assert report.max_rel_error < 1e-5
    graph = ops(tmp_path / "m.onnx")
    assert "BatchNormalization" not in graph and {"HardSwish", "HardSigmoid"} <= set(graph)
