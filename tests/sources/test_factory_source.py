"""A user's factory as a model specification: parsed, built, sized, and every mistake named."""
from __future__ import annotations

import pickle
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import recalib
from recalib.errors import CheckpointError, ConfigError, ShapeError
from recalib.sources.factory import FactoryRecord
from recalib.sources.user_code import file_module_name
from recalib.spec import parse_spec
from source_testing import write_nets


@pytest.fixture
def nets(tmp_path: Path) -> Path:
    return write_nets(tmp_path / "user")


def test_a_file_factory_builds_with_its_keyword_arguments_and_declared_size(nets: Path) -> None:
    spec = parse_spec(f"{nets}:tiny:width=6,classes=5")
    assert spec.kind == "factory" and spec.builds and spec.inputs == [nets]
    assert spec.record == FactoryRecord(str(nets), "tiny", {"width": 6, "classes": 5})
    assert spec.input_chw() == (3, 8, 8)
    model = spec.create()
    assert model.conv.out_channels == 6 and model(torch.randn(2, 3, 8, 8)).shape == (2, 5)
    # the class comes from the file's own module, under a name no installed package has
    assert type(model).__module__ == file_module_name(nets) and type(model).__module__ in sys.modules


def test_input_size_comes_from_the_option_then_the_model_then_an_error(nets: Path) -> None:
    assert parse_spec(f"{nets}:tiny").with_input_size((16, 12)).input_chw() == (3, 16, 12)
    assert parse_spec(f"{nets}:flat").input_chw() == (3, 8, 8)  # timm's pretrained_cfg
    undeclared = parse_spec(f"{nets}:undeclared")
    with pytest.raises(ConfigError, match=r"declares no input size .*; pass --input-size H W"):
        undeclared.input_chw()
    # channels from the first convolution when only H and W are given
    assert undeclared.with_input_size((8, 8)).input_chw() == (3, 8, 8)


def test_a_module_factory_is_imported_from_the_current_folder(nets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = nets.parent / "userpkg"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "models.py").write_text("from torch import nn\n\ndef make(n: int = 2):\n"
                                       "    m = nn.Conv2d(3, n, 1)\n    m.default_input_size = (3, 4, 4)\n"
                                       "    return m\n", encoding="utf-8")
    monkeypatch.chdir(nets.parent)
    monkeypatch.delitem(sys.modules, "userpkg.models", raising=False)
    monkeypatch.delitem(sys.modules, "userpkg", raising=False)
    spec = parse_spec("userpkg.models:make:n=5")
    assert spec.kind == "factory" and spec.inputs == []
    assert spec.create()(torch.randn(1, 3, 4, 4)).shape == (1, 5, 4, 4)


@pytest.mark.parametrize("tail,message", [
    (":missing", "has no attribute 'missing'; its functions and classes: Flat, Tiny, broken, flat, needs"),
    (":tiny:depth=2", "does not take option(s) depth; valid options: classes, width"),
    (":tiny:width=wide", "option width must be an integer, got the str 'wide'"),
    (":needs", "missing a required argument: 'classes'"),
    (":tiny+se", "+se inserts a block into recalib's architectures"),
    (":Tiny.forward.x", "has no attribute 'Tiny.forward.x'"),
])
def test_a_wrong_factory_is_refused_when_parsed(nets: Path, tail: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(f"{nets}{tail}")
    assert message in str(info.value)


def test_what_a_factory_does_wrong_is_named_with_the_factory(nets: Path) -> None:
    with pytest.raises(ConfigError, match=r"the factory .*nets.py:broken raised ValueError: no weights at "
                                          r"/models/w.pt; fix the factory") as info:
        parse_spec(f"{nets}:broken").create()
    assert "second line" not in str(info.value)
    with pytest.raises(ConfigError, match=r"returned a dict, not a torch.nn.Module; make it return the model"):
        parse_spec(f"{nets}:not_a_module").create()
    with pytest.raises(ShapeError, match=r"nets.py:flat fails on a 1x3x9x9 input \(RuntimeError: .*\); pass "
                                         r"--input-size H W that it takes"):
        parse_spec(f"{nets}:flat").with_input_size((9, 9)).create()


def test_files_and_modules_that_do_not_import_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere.py: no such file"):
        parse_spec(f"{tmp_path}/nowhere.py:net")
    bad = tmp_path / "bad.py"
    bad.write_text("import torch\nraise RuntimeError('needs a GPU')\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"importing .*bad.py failed \(RuntimeError: needs a GPU\)"):
        parse_spec(f"{bad}:net")
    with pytest.raises(ConfigError, match=r"no Python module named 'no_such_package_here'"):
        parse_spec("no_such_package_here.models:net")


def test_an_architecture_with_a_mistyped_option_is_not_taken_for_a_module(nets: Path) -> None:
    with pytest.raises(ConfigError, match=r"'stride' in the options of architecture 'resnet50' is not KEY=VALUE"):
        parse_spec("resnet50:stride")


def test_records_compare_and_pickle_by_their_fields(nets: Path) -> None:
    record = parse_spec(f"{nets}:tiny:width=6").record
    assert isinstance(record, FactoryRecord)
    record.input_chw()  # learns the declared size, which is not part of the record
    copy = pickle.loads(pickle.dumps(record))
    assert copy == record and hash(copy) == hash(record) and "_declared_chw" not in vars(copy)
    assert record.describe() == f"{nets}:tiny width=6"


def test_a_factory_model_has_no_checkpoint_and_block_insertion_is_refused(nets: Path, tmp_path: Path) -> None:
    spec = parse_spec(f"{nets}:tiny")
    with pytest.raises(CheckpointError, match=r"not built by recalib.create_model: .* never imports code because "
                                              r"a file names it. For your own model, save its state_dict"):
        recalib.save_checkpoint(spec.create(), tmp_path / "m.safetensors")
    assert not (tmp_path / "m.safetensors").exists()
    with pytest.raises(ConfigError, match=r"--block se needs a plain architecture, but .* is your own model"):
        spec.with_block("se")


def test_the_meta_build_falls_back_to_a_real_one_where_the_factory_needs_real_tensors(tmp_path: Path) -> None:
    path = tmp_path / "loads.py"
    path.write_text("import torch\nfrom torch import nn\n\ndef net():\n    m = nn.Conv2d(3, 2, 1)\n"
                    "    m.weight.data.copy_(torch.ones(2, 3, 1, 1))  # as loading weights does\n"
                    "    assert m.weight.sum().item() == 6\n    m.default_input_size = (3, 4, 4)\n    return m\n",
                    encoding="utf-8")
    spec = parse_spec(f"{path}:net")
    spec.check_fits(2)
    assert isinstance(spec.record.create_on_meta(), nn.Conv2d) and spec.input_chw() == (3, 4, 4)
