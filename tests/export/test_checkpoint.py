"""Checkpoints: spec + safetensors weights; loading rebuilds through the registry, never unpickles."""
from __future__ import annotations

import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

import export
import recalib
from export_helpers import randomize
from recalib.checkpoint import read_spec
from recalib.errors import CheckpointError


@pytest.fixture
def trained():
    return randomize(recalib.create_model("cc_vgg_mnist", "cc-static", emp="sine"))


def test_create_model_records_the_spec_that_rebuilds_it(trained):
    assert trained.recalib_spec == {"arch": "cc_vgg_mnist", "block": "cc-static", "stages": None,
                                    "options": {"emp": "sine", "emp_coordinates": "centred"}}


def test_round_trip_save_load_export(trained, tmp_path):
    path = recalib.save_checkpoint(trained, tmp_path / "m.safetensors")
    assert read_spec(path)["block"] == "cc-static"
    loaded = recalib.load_checkpoint(path).eval()
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(loaded(x), trained(x), rtol=0, atol=0)
    report = export.to_onnx(loaded, (1, 28, 28), tmp_path / "m.onnx")
    assert report.max_rel_error < 1e-4 and report.source["recalib_spec"]["options"]["emp"] == "sine"


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        recalib.load_checkpoint(tmp_path / "nope.safetensors")


def test_corrupt_file(trained, tmp_path):
    path = recalib.save_checkpoint(trained, tmp_path / "m.safetensors")
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="corrupt"):
        recalib.load_checkpoint(path)


def test_pickle_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError, match="never unpickles"):
        recalib.load_checkpoint(path)
    assert not marker.exists()


def test_plain_safetensors_file_is_not_a_checkpoint(tmp_path):
    save_file({"w": torch.zeros(2)}, str(tmp_path / "w.safetensors"))
    with pytest.raises(CheckpointError, match="not a recalib checkpoint"):
        recalib.load_checkpoint(tmp_path / "w.safetensors")


def test_weights_of_another_architecture_are_refused(trained, tmp_path):
    path = recalib.save_checkpoint(trained, tmp_path / "m.safetensors",
                                   spec={"arch": "cc_vgg_mnist", "block": "se", "options": {}})
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        recalib.load_checkpoint(path)
    with pytest.raises(CheckpointError, match="holds a 'cc_vgg_mnist' model, not 'resnet18'"):
        recalib.load_checkpoint(path, arch="resnet18")


def test_unstorable_spec_and_foreign_model_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not built by recalib.create_model"):
        recalib.save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.safetensors")
    with pytest.raises(CheckpointError, match="not plain data"):
        recalib.save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.safetensors",
                                spec={"arch": "x", "options": {"act": torch.nn.ReLU}})
    assert list(tmp_path.iterdir()) == []


def test_unknown_architecture_in_the_file_is_a_checkpoint_error(trained, tmp_path):
    path = recalib.save_checkpoint(trained, tmp_path / "m.safetensors",
                                   spec={"arch": "no-such-net", "options": {}})
    with pytest.raises(CheckpointError, match="cannot rebuild.*no-such-net"):
        recalib.load_checkpoint(path)
    assert json.loads(json.dumps(read_spec(path)))["arch"] == "no-such-net"
