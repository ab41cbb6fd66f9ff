"""The one atomic writer: whole files or none, ordinary permissions, no overwrite without force."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

import recalib
from recalib.infra.atomic import staging, write_atomic
from recalib.errors import OutputError


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
    with pytest.raises(OutputError, match="already exists"):
        write_atomic(path, "new")
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
    assert (tmp_path / "m.onnx").read_bytes() == b"graph"


def test_checkpoints_are_saved_with_ordinary_permissions(tmp_path: Path, umask_022) -> None:
    path = recalib.save_checkpoint(recalib.create_model("cc_vgg_mnist"), tmp_path / "m.safetensors")
    assert _mode(path) == 0o644 and sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors"]
    with pytest.raises(OutputError, match="does not exist"):
        recalib.save_checkpoint(recalib.create_model("cc_vgg_mnist"), tmp_path / "no" / "m.safetensors")


def _export_pair(folder: Path, content: bytes, force: bool = False) -> None:
    """What an export writes: a model and its report, committed together."""
    with staging(folder) as stage:
        stage.file(folder / "m.onnx").write_bytes(content)
        stage.file(folder / "m.report.json").write_bytes(content + b" report")
        stage.commit(force)


def test_of_two_writers_that_both_passed_the_check_exactly_one_places_its_files(tmp_path: Path, monkeypatch) -> None:
    """The race of two exports without --force: both checked an empty folder, both finish; one wins whole."""
    import recalib.infra.atomic as atomic

    _export_pair(tmp_path, b"plain")
    monkeypatch.setattr(atomic, "check_destinations", lambda *args, **kwargs: None)  # B checked before A wrote
    with pytest.raises(OutputError, match="appeared while this run was working.*none of this run's 2 file"):
        _export_pair(tmp_path, b"with se")
    assert (tmp_path / "m.onnx").read_bytes() == b"plain"
    assert (tmp_path / "m.report.json").read_bytes() == b"plain report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx", "m.report.json"]


def test_a_pair_is_never_half_placed_when_its_second_name_is_taken(tmp_path: Path, monkeypatch) -> None:
    import recalib.infra.atomic as atomic

    (tmp_path / "m.report.json").write_text("someone else's")
    monkeypatch.setattr(atomic, "check_destinations", lambda *args, **kwargs: None)
    with pytest.raises(OutputError):
        _export_pair(tmp_path, b"mine")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.report.json"]
    assert (tmp_path / "m.report.json").read_text() == "someone else's"


def test_an_input_is_never_written_over_even_with_force(tmp_path: Path) -> None:
    source = tmp_path / "ck.safetensors"
    source.write_bytes(b"weights")
    (tmp_path / "hard").hardlink_to(source)
    (tmp_path / "soft").symlink_to(source)
    for path in (source, tmp_path / "hard", tmp_path / "soft", tmp_path / "sub" / ".." / "ck.safetensors"):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(OutputError, match="is an input of this run.*--force does not allow"):
            write_atomic(path, "{}", force=True, inputs=[source])
    assert source.read_bytes() == b"weights"


@pytest.mark.parametrize("name", ["", ".", "folder"])
def test_a_folder_is_not_a_file_name(tmp_path: Path, monkeypatch, name: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(OutputError, match="is a folder, not a file"):
        write_atomic(name, "{}", force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder"]


def test_a_staging_folder_left_by_a_dead_run_is_swept_by_the_next_write(tmp_path: Path) -> None:
    from recalib.infra.atomic import STAGING_PREFIX, Staging

    dead, live = Staging(tmp_path), Staging(tmp_path)
    (dead.root / "m.onnx").write_bytes(b"x" * 1000)
    dead._folder._lock.release()  # what the kernel does when the process holding it dies
    write_atomic(tmp_path / "a.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(STAGING_PREFIX)) == [live.root.name]
    live.discard()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]
