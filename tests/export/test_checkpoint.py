"""Checkpoints: model record + safetensors weights; loading rebuilds through the registry, never unpickles."""
from __future__ import annotations

import json
import os
import pickle
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from recalib import export
import recalib
from export_helpers import randomize
from recalib.checkpoint import FORMAT, read_record
from recalib.errors import CheckpointError, OutputError
from recalib.record import ModelRecord


@pytest.fixture
def trained():
    return randomize(recalib.create_model("cc_vgg_mnist", "cc-static", emp="sine"))


def test_create_model_records_what_rebuilds_it(trained):
    assert trained.recalib_record == ModelRecord("cc_vgg_mnist", "cc-static", {"emp": "sine", "emp_coordinates": "centred"})
    assert trained.recalib_record.to_json() == {"arch": "cc_vgg_mnist", "block": "cc-static", "stages": None,
                                                "options": {"emp": "sine", "emp_coordinates": "centred"}}


def test_round_trip_save_load_export(trained, tmp_path):
    path = recalib.save_checkpoint(trained, tmp_path / "m.safetensors")
    assert read_record(path) == trained.recalib_record
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


def write_by_hand(path, model, spec, version=FORMAT):
    """A checkpoint file as another tool (or an older recalib) might have written it."""
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"format": version, "recalib_version": "0", "spec": spec})
    return path


def test_weights_of_another_architecture_are_refused(trained, tmp_path):
    wrong = ModelRecord("cc_vgg_mnist", "se")
    with pytest.raises(CheckpointError, match="do not fit the architecture.*save the model before folding"):
        recalib.save_checkpoint(trained, tmp_path / "m.safetensors", record=wrong)
    assert list(tmp_path.iterdir()) == []
    path = write_by_hand(tmp_path / "m.safetensors", trained, json.dumps(wrong.to_json()))
    with pytest.raises(CheckpointError, match="do not fit the architecture"):
        recalib.load_checkpoint(path)
    with pytest.raises(CheckpointError, match="holds a 'cc_vgg_mnist' model, not 'resnet18'"):
        recalib.load_checkpoint(path, arch="resnet18")


def test_unstorable_record_and_foreign_model_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not built by recalib.create_model"):
        recalib.save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.safetensors")
    with pytest.raises(CheckpointError, match="not plain data"):
        recalib.save_checkpoint(torch.nn.Linear(2, 2), tmp_path / "x.safetensors",
                                record=ModelRecord("x", options={"act": torch.nn.ReLU}))
    assert list(tmp_path.iterdir()) == []


def test_unknown_architecture_in_the_file_is_a_checkpoint_error(trained, tmp_path):
    path = write_by_hand(tmp_path / "m.safetensors", trained, json.dumps({"arch": "no-such-net", "options": {}}))
    with pytest.raises(CheckpointError, match="cannot rebuild.*no-such-net"):
        recalib.load_checkpoint(path)
    assert read_record(path) == ModelRecord("no-such-net")


def test_a_format_1_file_loads_as_it_was_saved_not_with_todays_defaults(tmp_path):
    """Format 1 stored only the options passed; the EMP reading was 'unit' then ('centred' now)."""
    saved = randomize(recalib.create_model("cc_vgg_mnist", "cc-static", emp="sine", emp_coordinates="unit"))
    old = {"arch": "cc_vgg_mnist", "block": "cc-static", "stages": None, "options": {"emp": "sine"}}
    path = write_by_hand(tmp_path / "old.safetensors", saved, json.dumps(old), version="recalib-checkpoint/1")
    loaded = recalib.load_checkpoint(path).eval()
    assert loaded.recalib_record.options == {"emp": "sine", "emp_coordinates": "unit"}
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(loaded(x), saved.eval()(x), rtol=0, atol=0)
    today = recalib.create_model("cc_vgg_mnist", "cc-static", emp="sine").eval()
    today.load_state_dict(saved.state_dict())
    assert not torch.allclose(today(x), loaded(x))  # what loading with today's default would have given


@pytest.mark.parametrize("arch,block,options,filled", [
    ("resnet50", "ms-sar", {}, {"reduction": 3}),
    ("densenet_bc100", "ms-sar", {"scales": [1, 2]}, {"scales": (1, 2), "reduction": 3,
                                                      "recalibration": "single-stage"}),
    ("wrn22_10", "cmpe-se-folded-3x3", {}, {"fold_cols": 16}),
    ("wrn22_10", "cmpe-se-folded-3x3", {"fold_rows": 20}, {"fold_rows": 20}),
    ("resnet50", "se", {"reduction": 8}, {"reduction": 8}),
    ("cc_vgg_mnist", "cc-full", {"emp_coordinates": "centred"}, {"emp_coordinates": "centred"}),
])
def test_format_1_specs_get_the_defaults_of_their_time_where_the_option_is_absent(tmp_path, arch, block, options,
                                                                                   filled):
    spec = {"arch": arch, "block": block, "stages": None, "options": options}
    save_file({"w": torch.zeros(1)}, str(tmp_path / "v1.safetensors"),
              metadata={"format": "recalib-checkpoint/1", "recalib_version": "0", "spec": json.dumps(spec)})
    save_file({"w": torch.zeros(1)}, str(tmp_path / "v2.safetensors"),
              metadata={"format": FORMAT, "recalib_version": "0", "spec": json.dumps(spec)})
    assert read_record(tmp_path / "v1.safetensors").options == filled
    assert read_record(tmp_path / "v2.safetensors").to_json()["options"] == options  # format 2 records every option


def test_a_hostile_spec_is_refused_from_the_header_before_any_weight_is_allocated(tmp_path):
    """A 1 MB file saying num_classes=10**8 would cost a 25 GB classifier if the spec were trusted."""
    model = recalib.create_model("cifar_resnet20")
    spec = {"arch": "cifar_resnet20", "block": None, "stages": None, "options": {"num_classes": 10**8}}
    path = write_by_hand(tmp_path / "hostile.safetensors", model, json.dumps(spec))
    with address_space_limited_to(512 << 20):  # any real allocation of the classifier fails
        with pytest.raises(CheckpointError, match=r"fc.bias: .*\(10,\) vs model \(100000000,\)"):
            recalib.load_checkpoint(path)


@contextmanager
def address_space_limited_to(extra: int):
    """This process may map at most ``extra`` more bytes while the block runs."""
    resource = pytest.importorskip("resource")
    status = Path("/proc/self/status")
    if not status.is_file():
        pytest.skip("needs /proc to read the current address space")
    size = next(int(line.split()[1]) * 1024 for line in status.read_text().splitlines() if line.startswith("VmSize:"))
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


@pytest.mark.parametrize("stored,message", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "a JSON list, not an object"),
    ('{"block": "se", "options": {}}', "no valid arch"),
    ('{"arch": "cifar_resnet20", "options": [1]}', "no valid options"),
    ('{"arch": 7, "options": {}}', "no valid arch"),
    ('{"arch": "cifar_resnet20", "stages": [1, "2"]}', "no valid stages"),
])
def test_a_damaged_stored_spec_is_a_clear_checkpoint_error(tmp_path, stored, message):
    path = write_by_hand(tmp_path / "m.safetensors", recalib.create_model("cifar_resnet20"), stored)
    with pytest.raises(CheckpointError, match=message):
        recalib.load_checkpoint(path)
    with pytest.raises(CheckpointError, match=message):
        recalib.parse_spec(str(path))  # the spec parser reads checkpoints through the same check


def test_a_folded_model_is_refused_and_nothing_is_written(tmp_path):
    folded = recalib.fold(recalib.create_model("cifar_resnet20", "se"))
    with pytest.raises(CheckpointError, match="19 unexpected.*save the model before folding"):
        recalib.save_checkpoint(folded, tmp_path / "folded.safetensors")
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_replaced_only_with_force(trained, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("my notes")
    with pytest.raises(OutputError, match="already exists"):
        recalib.save_checkpoint(trained, path)
    assert path.read_text() == "my notes" and sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    recalib.save_checkpoint(trained, path, force=True)
    assert read_record(path).block == "cc-static"


def _saved_as(tmp_path: Path, model: torch.nn.Module, spec: str, cast: torch.dtype | None = None) -> Path:
    """``model``'s state saved with recalib's metadata around ``spec``, the float tensors cast to ``cast``."""
    state = {k: (v.to(cast) if cast is not None and v.is_floating_point() else v).contiguous()
             for k, v in model.state_dict().items()}
    path = tmp_path / "ck.safetensors"
    save_file(state, str(path), metadata={"format": FORMAT, "spec": spec})
    return path


@pytest.mark.parametrize("dtype", [torch.bool, torch.int8, torch.float16, torch.float64])
def test_tensors_of_another_dtype_than_the_models_are_refused_not_cast(tmp_path: Path, dtype: torch.dtype) -> None:
    """Issue 26: BOOL, I8, F16 and F64 tensors were silently cast to float32."""
    model = recalib.create_model("cc_vgg_mnist")
    path = _saved_as(tmp_path, model, json.dumps(model.recalib_record.to_json()), dtype)
    with pytest.raises(CheckpointError, match="stored as another dtype than the model's .*in the file, F32 in the"):
        recalib.load_checkpoint(path)


def test_a_huge_or_deeply_nested_stored_spec_is_refused_with_a_bounded_message(tmp_path: Path) -> None:
    model = recalib.create_model("cc_vgg_mnist")
    path = _saved_as(tmp_path, model, json.dumps({"arch": "x" * 10_000_000}))
    with pytest.raises(CheckpointError, match="the stored spec is 10000012 characters") as caught:
        read_record(path)
    assert len(str(caught.value)) < 1000
    path = _saved_as(tmp_path, model, "[" * 100_000 + "]" * 100_000)
    with pytest.raises(CheckpointError, match="nested too deeply"):
        read_record(path)


def test_a_fifo_named_like_a_checkpoint_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "ck.safetensors")
    with pytest.raises(CheckpointError, match="ck.safetensors is a FIFO, not a regular file"):
        recalib.load_checkpoint(tmp_path / "ck.safetensors")
