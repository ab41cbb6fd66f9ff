"""The digits example: every block family learns, and a trained checkpoint deploys with the same decisions."""
from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator

import pytest
import torch

import recalib
from recalib.cli.main import main
from recalib.spec import parse_spec
from train_digits import CHANCE, MIN_ACCURACY, Schedule, Trained, main as train_main, train_spec

# One block of each family (and GE's three variants: θ⁻ has no parameters, θ⁺ convolutions),
# trained at the digits' own 8x8 size, where a short schedule takes about two seconds.
FAMILIES = ["se", "ge-theta-minus", "ge-theta", "ge-theta-plus", "cc-reduced", "cc-static",
            "ms-sar:scales=(1,2)", "cmpe-se-pair-2x1"]


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Training on one thread: with two, each op waits for a core that other work holds (4-10x slower here)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained_se(one_thread: None) -> Trained:
    """cifar_resnet20 + SE trained for three epochs on the digits upsampled to 16x16 (about 5 s)."""
    return train_spec(parse_spec("cifar_resnet20+se").with_input_size((16, 16)), Schedule(epochs=3))


def test_the_minimum_accuracy_is_far_above_chance() -> None:
    assert MIN_ACCURACY >= 8 * CHANCE


@pytest.mark.parametrize("block", FAMILIES)
def test_every_block_family_learns_the_digits(block: str) -> None:
    spec = parse_spec("cifar_resnet20").with_block(block).with_input_size((8, 8))
    result = train_spec(spec, Schedule(epochs=3))
    assert result.accuracy >= MIN_ACCURACY, f"{block}: {result.accuracy:.1%}"


def test_a_checkpoint_round_trips_bit_exactly(trained_se, tmp_path) -> None:
    path = recalib.save_checkpoint(trained_se.model, tmp_path / "se.safetensors")
    loaded = recalib.load_checkpoint(path).eval()
    saved, restored = trained_se.model.state_dict(), loaded.state_dict()
    assert saved.keys() == restored.keys()
    assert all(torch.equal(saved[k], restored[k]) for k in saved)
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(x), trained_se.model.eval()(x))


def test_a_trained_checkpoint_exports_with_every_decision_kept(trained_se, tmp_path, capsys) -> None:
    assert trained_se.accuracy >= MIN_ACCURACY
    checkpoint = recalib.save_checkpoint(trained_se.model, tmp_path / "se.safetensors")
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "se.onnx"), "--verify-data", "digits", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (agreement,) = report["agreement"]
    assert agreement["samples"] == 449 and agreement["agreed"] == 449 and agreement["disagreements"] == []
    assert agreement["runtime_correct"] / 449 >= MIN_ACCURACY
    assert agreement["pytorch_correct"] == round(trained_se.accuracy * 449)
    assert report["tolerance"] == 1e-4 and report["max_rel_error"] <= 1e-4
    assert report["verified_on"].startswith("digits test split (449 images")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_example_runs_in_one_command(tmp_path, capsys, monkeypatch) -> None:
    terminal = Terminal()  # the epoch bars are drawn on a terminal only (recalib.infra.progress)
    monkeypatch.setattr(sys, "stderr", terminal)
    assert train_main(["--block", "ge-theta-minus", "--epochs", "1", "--input-size", "8", "8",
                       "-o", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "cifar_resnet20: test accuracy" in out and "cifar_resnet20+ge-theta-minus: test accuracy" in out
    bars = terminal.getvalue()
    assert "cifar_resnet20+ge-theta-minus: 100%" in bars and "1/1" in bars  # an epoch bar per model
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ge-theta-minus.safetensors", "plain.safetensors"]
    assert recalib.load_checkpoint(tmp_path / "ge-theta-minus.safetensors").recalib_record.block == "ge-theta-minus"


def test_your_own_model_is_trained_as_it_is_and_its_weights_saved_as_a_state_dict(tmp_path, capsys) -> None:
    from safetensors.torch import load_file

    factory = tmp_path / "mine.py"
    factory.write_text("from torch import nn\n\ndef net(classes: int = 10):\n"
                       "    m = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),\n"
                       "                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes))\n"
                       "    m.default_input_size = (3, 8, 8)\n    return m\n", encoding="utf-8")
    out = tmp_path / "runs"
    assert train_main(["--arch", f"{factory}:net", "--epochs", "2", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{factory}:net: test accuracy" in printed and "load it" not in printed
    assert "in your factory (model.load_state_dict(safetensors.torch.load_file(path)))" in printed
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors"]
    assert load_file(out / "model.safetensors")["0.weight"].shape == (16, 3, 3, 3)
    with pytest.raises(recalib.errors.ConfigError, match=r"--block se: blocks go into recalib's architectures"):
        train_main(["--arch", f"{factory}:net", "--block", "se", "-o", str(out)])
