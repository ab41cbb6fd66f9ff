"""A torch.export archive (.pt2) as a model specification: its own weights and input, loaded without unpickling code."""
from __future__ import annotations

import copy
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from recalib.errors import ConfigError, ShapeError
from recalib.sources.program import ProgramModule, ProgramRecord
from recalib.spec import parse_spec
from source_testing import TwoInputs, save_program, tiny_module


@pytest.fixture(scope="module")
def exported() -> torch.nn.Module:
    return tiny_module()


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory, exported: torch.nn.Module) -> Path:
    return save_program(tmp_path_factory.mktemp("program") / "tiny.pt2", exported)


def test_a_program_runs_as_exported_with_its_own_weights_and_size(program: Path, exported: torch.nn.Module) -> None:
    spec = parse_spec(str(program))
    assert spec.kind == "program" and spec.builds and spec.inputs == [program] and spec.fixed_batch is None
    assert spec.input_chw() == (3, 8, 8)
    model = spec.create()
    assert isinstance(model, ProgramModule)
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), exported(x))  # its own weights, at any batch
    assert os.environ.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD") is None  # forced only while loading


def test_a_program_module_switches_mode_copies_and_pickles_with_its_tensors(program: Path) -> None:
    model = parse_spec(str(program)).create()
    assert model.eval() is model and not model.training  # the program's own module refuses eval()
    twin = copy.deepcopy(model).double()
    x = torch.randn(2, 3, 8, 8, dtype=torch.float64)
    again = pickle.loads(pickle.dumps(twin))
    with torch.no_grad():
        assert again(x).dtype == torch.float64 and torch.equal(again(x), twin(x))
        for parameter in twin.parameters():
            parameter.mul_(2)
        assert not torch.equal(pickle.loads(pickle.dumps(twin))(x), again(x))  # current tensors, not the file's


def test_static_sizes_are_the_programs_and_dynamic_ones_need_input_size(tmp_path: Path, program: Path) -> None:
    with pytest.raises(ConfigError, match=r"was exported for 8x8 input, not 16x16; drop --input-size"):
        parse_spec(str(program)).with_input_size((16, 16))
    dynamic = parse_spec(str(save_program(tmp_path / "dyn.pt2", dynamic="size")))
    with pytest.raises(ConfigError, match=r"exported with a dynamic height or width; pass --input-size H W"):
        dynamic.input_chw()
    assert dynamic.with_input_size((16, 16)).input_chw() == (3, 16, 16)
    with pytest.raises(ShapeError, match=r"fails on a 1x3x80x80 input .*; pass --input-size H W that it takes"):
        dynamic.with_input_size((80, 80)).create()  # beyond the program's range (at most 64)
    with pytest.raises(ConfigError, match=r"runs at batch 2 only; recalib folds and checks models on one image"):
        parse_spec(str(save_program(tmp_path / "static.pt2", dynamic=""))).input_chw()


def test_a_program_of_two_inputs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "two.pt2"
    x = torch.randn(1, 3, 8, 8)
    torch.export.save(torch.export.export(TwoInputs(), (x, x)), str(path))
    with pytest.raises(ConfigError, match=r"takes 2 input\(s\) \(shape \(1, 3, 8, 8\), shape \(1, 3, 8, 8\)\); "
                                          r"recalib measures programs of one \(N, C, H, W\) tensor"):
        parse_spec(str(path)).input_chw()


def _pickled_object_archive(program: Path, target: Path) -> Path:
    """``program``'s archive plus a pickled custom object among its constants."""
    from torch.export.pt2_archive.constants import CUSTOM_OBJ_FILENAME_PREFIX

    with zipfile.ZipFile(program) as source, zipfile.ZipFile(target, "w") as out:
        for name in source.namelist():
            out.writestr(name, source.read(name))
        root = source.namelist()[0].split("/")[0]
        out.writestr(f"{root}/data/constants/{CUSTOM_OBJ_FILENAME_PREFIX}0", b"cos\nsystem\n(S'true'\ntR.")
    return target


def test_files_that_are_not_safe_exported_programs_are_refused(tmp_path: Path, program: Path) -> None:
    text = tmp_path / "notes.pt2"
    text.write_text("not a program", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"not a torch.export archive \(not even a zip file\); save the program "
                                          r"with torch.export.save"):
        parse_spec(str(text)).input_chw()
    pickled = tmp_path / "model.pt2"
    torch.save({"weights": torch.zeros(2)}, str(pickled))  # torch.save writes a zip archive too
    with pytest.raises(ConfigError, match=r"is not an ExportedProgram that torch.export.load reads safely"):
        parse_spec(str(pickled)).input_chw()
    crafted = _pickled_object_archive(program, tmp_path / "crafted.pt2")
    with pytest.raises(ConfigError, match=r"stores pickled Python objects .*; recalib does not unpickle them"):
        ProgramRecord(crafted).create()


class _Marker:
    """Unpickled by the full unpickler, it creates a file: the code a crafted archive could run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return open, (str(self.path), "w")


def test_a_crafted_weight_that_would_run_code_is_refused_and_runs_nothing(tmp_path: Path, program: Path) -> None:
    marker, target, buffer = tmp_path / "ran", tmp_path / "crafted.pt2", io.BytesIO()
    torch.save(_Marker(marker), buffer)
    with zipfile.ZipFile(program) as source, zipfile.ZipFile(target, "w") as out:
        (config_name,) = [n for n in source.namelist() if n.endswith("model_weights_config.json")]
        config = json.loads(source.read(config_name))
        first = next(iter(config["config"].values()))
        first["use_pickle"] = True  # this weight is read by torch.load(weights_only=False)
        weight = f"{Path(config_name).parent}/{first['path_name']}"
        for name in source.namelist():
            data = {config_name: json.dumps(config).encode(), weight: buffer.getvalue()}.get(name)
            out.writestr(name, source.read(name) if data is None else data)
    with pytest.raises(ConfigError, match=r"is not an ExportedProgram that torch.export.load reads safely"):
        ProgramRecord(target).create()
    assert not marker.exists()
