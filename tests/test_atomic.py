"""The one atomic writer: whole files or none, ordinary permissions, no overwrite without force."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import recalib
from recalib.atomic import staging, write_atomic
from recalib.errors import CheckpointError, ConfigError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_written_file_has_its_content_and_the_permissions_open_would_give(tmp_path: Path, umask_022) -> None:
    path = write_atomic(tmp_path / "a.json", "{}\n")
    assert path.read_text() == "{}\n" and _mode(path) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_an_existing_file_is_kept_without_force_and_replaced_with_it(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("mine")
    with pytest.raises(ConfigError, match="already exists"):
        write_atomic(path, "new", force=False, error=ConfigError)
    assert path.read_text() == "mine"
    write_atomic(path, b"new", force=True)
    assert path.read_text() == "new"


def test_a_failure_before_commit_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        with staging(tmp_path) as stage:
            stage.file(tmp_path / "half.onnx").write_bytes(b"half")
            raise RuntimeError("the writer failed")
    assert list(tmp_path.iterdir()) == []


def test_files_staged_together_move_together(tmp_path: Path) -> None:
    with staging(tmp_path) as stage:
        stage.file(tmp_path / "m.onnx").write_bytes(b"graph")
        stage.file(tmp_path / "m.report.json").write_text("{}")
        stage.file(tmp_path / "m.onnx.data")  # never written: nothing moves for it
        stage.commit()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.report.json"]


def test_checkpoints_are_saved_with_ordinary_permissions(tmp_path: Path, umask_022) -> None:
    path = recalib.save_checkpoint(recalib.create_model("cc_vgg_mnist"), tmp_path / "m.safetensors")
    assert _mode(path) == 0o644 and sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    with pytest.raises(CheckpointError, match="does not exist"):
        recalib.save_checkpoint(recalib.create_model("cc_vgg_mnist"), tmp_path / "no" / "m.safetensors")
