"""The one preparation step: seeded weights, batch-norm calibration, the export loop, exported files."""
from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

import recalib
from export.prepare import PrepareOptions, build, export_all, from_file, prepare
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
    plain = export_all(models[1:], tmp_path / "plain", PrepareOptions(optimize=False))
    optimized = export_all(models, tmp_path, PrepareOptions(optimize=True))
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
    prepare(TINY, path, PrepareOptions(fixed_batch=2))
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
