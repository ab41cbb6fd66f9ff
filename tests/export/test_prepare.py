"""The one preparation step: seeded weights, batch-norm calibration, the export loop, exported files."""
from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

import recalib
from recalib.export.export_all import export_all
from recalib.export.from_file import from_file
from recalib.export.options import ExportOptions, PrepareOptions
from recalib.export.prepare import build, prepare
from recalib.errors import ConfigError, OutputError, RecalibError
from recalib.spec import parse_spec

SMALL = parse_spec("cifar_resnet20:input_size=(16,16)")  # with batch norms, built only
TINY = parse_spec("cc_vgg_mnist")  # exported in about a second


def _norms(model: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def test_random_weights_are_seeded_and_leave_the_global_random_state_alone() -> None:
    state = torch.random.get_rng_state()
    first, second = build(SMALL).module, build(SMALL).module
    other = build(SMALL, PrepareOptions(seed=1)).module
    assert torch.equal(torch.random.get_rng_state(), state)
    assert first is not None and second is not None and other is not None
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    conv = [next(m for m in model.modules() if isinstance(m, nn.Conv2d)) for model in (first, other)]
    assert not torch.equal(conv[0].weight, conv[1].weight)


def test_random_weights_get_batch_norm_statistics_and_checkpoints_keep_theirs(tmp_path: Path) -> None:
    prepared = build(SMALL)
    assert prepared.module is not None and not prepared.module.training
    assert all(not torch.allclose(bn.running_var, torch.ones_like(bn.running_var)) for bn in _norms(prepared.module))
    assert "random inputs" in prepared.weights["batchnorm_statistics"]
    trained = recalib.create_model("cifar_resnet20", input_size=(16, 16))
    checkpoint = recalib.save_checkpoint(trained, tmp_path / "m.safetensors")
    loaded = build(parse_spec(str(checkpoint))).module
    assert loaded is not None
    assert all(torch.equal(bn.running_var, torch.ones_like(bn.running_var)) for bn in _norms(loaded))


def test_one_loop_exports_every_model_and_optimize_selects_the_rewrites(tmp_path: Path) -> None:
    models = [build(TINY, label="none"), build(TINY.with_block("se"), label="se")]
    (tmp_path / "plain").mkdir()
    plain = export_all(models[1:], tmp_path / "plain", PrepareOptions(export=ExportOptions(optimize=False)))
    optimized = export_all(models, tmp_path, PrepareOptions(export=ExportOptions(optimize=True)))
    assert [m.label for m in optimized] == ["none", "se"] and all(m.file and m.file.is_file() for m in optimized)

    def ops(path: Path | None) -> set[str]:
        return {node.op_type for node in onnx.load(str(path)).graph.node}

    # export.optimize squeezes with GlobalAveragePool (kept in onnxruntime's NCHWc layout)
    assert "GlobalAveragePool" in ops(optimized[1].file) - ops(plain[0].file)
    assert all(m.report is not None and m.report.max_rel_error < 1e-4 for m in optimized)


def test_failures_are_reported_and_the_others_exported(tmp_path: Path) -> None:
    models = [build(TINY, label="ok"), build(TINY, label="broken")]
    assert models[1].module is not None
    with torch.no_grad():
        next(models[1].module.parameters()).fill_(float("nan"))
    failed: list[tuple[str, RecalibError]] = []
    done = export_all(models, tmp_path, on_error=lambda m, exc: failed.append((m.label, exc)))
    assert [m.label for m in done] == ["ok"] and [label for label, _ in failed] == ["broken"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0-ok.onnx"]


def test_an_exported_file_is_measured_as_it_is_with_its_shape(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    prepare(TINY, path, PrepareOptions(export=ExportOptions(fixed_batch=2)))
    from_report = from_file(parse_spec(str(path)))
    assert (from_report.input_chw, from_report.fixed_batch, from_report.module) == ((1, 28, 28), 2, None)
    assert "m.report.json" in from_report.verified
    path.with_suffix(".report.json").unlink()
    from_graph = from_file(parse_spec(str(path)))
    assert (from_graph.input_chw, from_graph.fixed_batch) == ((1, 28, 28), 2)
    with pytest.raises(OutputError, match="already exists"):
        prepare(TINY, path, PrepareOptions())
    with pytest.raises(ConfigError, match="torch runtimes need an architecture or a checkpoint"):
        from_graph.inference()


def test_each_runtime_gets_the_export_of_its_own_target_and_shared_forms_are_exported_once(tmp_path: Path) -> None:
    runtimes = ["ort-cpu", "openvino-cpu", "tensorrt"]
    cc, se = build(TINY.with_block("cc-reduced"), label="cc"), build(TINY.with_block("se"), label="se")
    done = export_all([cc, se], tmp_path, PrepareOptions(), runtimes=runtimes)
    by_target = {r: done[0].exports[r] for r in runtimes}
    assert [by_target[r].targets for r in runtimes] == [("onnxruntime",), ("openvino",), ("onnxruntime",)]
    assert by_target["ort-cpu"].file != by_target["openvino-cpu"].file == done[0].file_for("openvino-cpu")
    assert by_target["openvino-cpu"].report.target == "openvino" and by_target["ort-cpu"].report.target == "onnxruntime"
    # the targets' graph passes differ (onnxruntime's folds a gate into a 1x1 conv's weights), so SE too
    # gets one export per target, the tensorrt runtime sharing onnxruntime's
    assert done[1].file_for("tensorrt") == done[1].file_for("ort-cpu") != done[1].file_for("openvino-cpu")
    assert done[1].exports["openvino-cpu"].describe() == "optimised for openvino"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0-cc.onnxruntime.onnx", "0-cc.openvino.onnx",
                                                          "1-se.onnxruntime.onnx", "1-se.openvino.onnx"]


@pytest.mark.parametrize("optimize, described", [(False, "plain"), ("openvino", "optimised for openvino")])
def test_plain_or_one_named_target_is_one_export_for_every_runtime(tmp_path: Path, optimize: bool | str,
                                                                   described: str) -> None:
    [done] = export_all([build(TINY.with_block("cc-reduced"))], tmp_path, PrepareOptions(export=ExportOptions(optimize=optimize)),
                        runtimes=["ort-cpu", "openvino-cpu"])
    assert {done.exports[r].describe() for r in ("ort-cpu", "openvino-cpu")} == {described}
    assert len(list(tmp_path.iterdir())) == 1


def test_an_unknown_export_target_is_refused_before_any_model_is_built() -> None:
    with pytest.raises(ConfigError, match="names no export target"):
        PrepareOptions(export=ExportOptions(optimize="tvm"))


def test_identity_gates_are_drawn_from_the_seed_so_no_runtime_can_delete_them() -> None:
    """Untrained CC static maps are all ones (θ = 0): a multiply by 1 OpenVINO deletes."""
    spec = TINY.with_block("cc-static")
    first, again, other = build(spec).module, build(spec).module, build(spec, PrepareOptions(seed=1)).module
    gates = [[m.constant_gate() for m in model.modules() if hasattr(m, "constant_gate")]
             for model in (first, again, other)]
    assert gates[0] and not any(torch.all(g == 1) for g in gates[0])
    assert all(torch.equal(a, b) for a, b in zip(gates[0], gates[1]))
    assert not torch.equal(gates[0][0], gates[2][0])
    assert "N(0, 0.5^2) (seed 0)" in build(spec).weights["identity_gates"]
    # the Gaussian map is not the identity at θ = 0: its parameters stay as built
    gaussian = build(TINY.with_block("cc-static:emp=gaussian"))
    assert "identity_gates" not in gaussian.weights


# Others' models as a user's file defines them: a zero-initialised branch (timm's zero_init_last), a frozen norm.
USER_NETS = '''
import torch
from torch import nn


class Frozen(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.eps = 1e-5
        for name, init in (("weight", torch.ones), ("bias", torch.zeros), ("running_mean", torch.zeros),
                           ("running_var", torch.ones)):
            self.register_buffer(name, init(channels))

    def forward(self, x):
        scale = self.weight * (self.running_var + self.eps).rsqrt()
        return x * scale.view(1, -1, 1, 1) + (self.bias - self.running_mean * scale).view(1, -1, 1, 1)


class Gated(nn.Module):
    """A residual block whose branch ends in a norm at zero and an SE gate, as timm initialises it."""

    def __init__(self, frozen=False):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.norm = Frozen(8) if frozen else nn.BatchNorm2d(8)
        self.conv = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn_last = nn.BatchNorm2d(8)
        nn.init.zeros_(self.bn_last.weight)
        self.fc = nn.Conv2d(8, 8, 1)
        self.default_input_size = (3, 8, 8)

    def forward(self, x):
        x = torch.relu(self.norm(self.stem(x)))
        branch = self.bn_last(self.conv(x))
        return x + branch * self.gate(branch)

    def gate(self, branch):
        return torch.sigmoid(self.fc(branch.mean((2, 3), keepdim=True)))


def gated(frozen: bool = False):
    return Gated(frozen)


def trained():
    model = Gated()
    with torch.no_grad():
        model.norm.running_var.fill_(4.0)
        model.bn_last.weight.fill_(0.5)
        model.bn_last.running_mean.fill_(0.25)
    return model
'''


@pytest.fixture
def user_nets(tmp_path: Path) -> Path:
    path = tmp_path / "user_nets.py"
    path.write_text(USER_NETS, encoding="utf-8")
    return path


def test_a_zero_initialised_branch_is_redrawn_from_the_seed_and_said_so(user_nets: Path) -> None:
    prepared = build(parse_spec(f"{user_nets}:gated"))
    model = prepared.module
    assert model is not None and prepared.weights["from"] == "factory" and prepared.weights["seed"] == 0
    assert prepared.weights["zero_weights"].startswith("1 all-zero weight(s) redrawn (seed 0; e.g. bn_last.weight)")
    assert float(model.bn_last.weight.detach().abs().min()) > 0
    again = build(parse_spec(f"{user_nets}:gated")).module
    assert again is not None and torch.equal(again.bn_last.weight, model.bn_last.weight)
    # the gate now matters: without it (a gate of ones), the output changes
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        gated = model(x)
        model.gate = lambda branch: torch.ones_like(branch)
        assert float((model(x) - gated).abs().max()) > 1e-3


def test_a_frozen_norm_is_calibrated_like_pytorchs(user_nets: Path) -> None:
    prepared = build(parse_spec(f"{user_nets}:gated:frozen=true"))
    assert prepared.module is not None and "random inputs" in prepared.weights["batchnorm_statistics"]
    frozen = prepared.module.norm
    assert not torch.all(frozen.running_mean == 0) and not torch.all(frozen.running_var == 1)
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        stem = prepared.module.stem(x)
    torch.testing.assert_close(frozen.running_mean, stem.mean((0, 2, 3)))  # the calibration batch's statistics


def test_a_factorys_trained_weights_are_kept_as_they_are(user_nets: Path) -> None:
    prepared = build(parse_spec(f"{user_nets}:trained"))
    model = prepared.module
    assert model is not None and "batchnorm_statistics" not in prepared.weights
    assert prepared.weights["values"].startswith("the factory's own") and "zero_weights" not in prepared.weights
    assert torch.all(model.norm.running_var == 4.0) and torch.all(model.bn_last.running_mean == 0.25)


def test_a_program_keeps_its_weights_and_a_static_batch_fixes_the_export(tmp_path: Path) -> None:
    module = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).eval()
    torch.export.save(torch.export.export(module, (torch.randn(1, 3, 8, 8),)), str(tmp_path / "m.pt2"))
    spec = parse_spec(str(tmp_path / "m.pt2"))
    prepared = build(spec)
    assert prepared.weights == {"from": "program", "path": str(tmp_path / "m.pt2")} and prepared.fixed_batch == 1
    with pytest.raises(ConfigError, match=r"runs at batch 1 only \(its program was exported so\); drop --fixed-batch 2"):
        prepare(spec, tmp_path / "two.onnx", PrepareOptions(export=ExportOptions(fixed_batch=2)))
    done = prepare(spec, tmp_path / "m.onnx")
    assert done.fixed_batch == 1 and done.report is not None and done.report.max_rel_error < 1e-5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.pt2", "m.report.json"]
    with pytest.raises(ConfigError, match=r"batch norms are fixed in its graph"):
        build(spec, PrepareOptions(calibrate=True))


def test_an_onnx_file_is_not_exported_again(tmp_path: Path) -> None:
    source = prepare(TINY, tmp_path / "m.onnx").file
    assert source is not None
    with pytest.raises(ConfigError, match=r"is an exported onnx file already: export makes ONNX from PyTorch models"):
        prepare(parse_spec(str(source)), tmp_path / "again.onnx")
    assert not (tmp_path / "again.onnx").exists()
