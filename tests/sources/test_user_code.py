"""A user's file is imported once under a name of its own, and again, the same way, in a worker process."""
from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from recalib.errors import ConfigError
from recalib.sources.user_code import file_module_name, import_file, import_files, imported_files
from source_testing import write_nets


def test_a_file_is_imported_once_until_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "counter.py"
    path.write_text("RUNS = [1]\n", encoding="utf-8")
    first = import_file(path)
    assert import_file(path) is first and first.__name__ == file_module_name(path)
    path.write_text("RUNS = [1, 2]\n", encoding="utf-8")
    assert import_file(path).RUNS == [1, 2]
    assert imported_files()[file_module_name(path)] == str(path.resolve())


def test_files_of_the_same_stem_get_different_names_that_shadow_no_package(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "json.py", tmp_path / "b" / "json.py"
    for path in (a, b):
        path.parent.mkdir()
        path.write_text("WHO = __file__\n", encoding="utf-8")
    assert import_file(a).WHO != import_file(b).WHO
    assert file_module_name(a) != file_module_name(b) and "json" in sys.modules and sys.modules["json"].__file__ != str(a)


def test_a_worker_process_imports_the_files_then_unpickles_their_classes(tmp_path: Path) -> None:
    """What the timing workers do (recalib.deploy._worker.read_job), in a fresh interpreter."""
    nets = write_nets(tmp_path / "user")
    model = import_file(nets).tiny(width=5)
    payload = tmp_path / "job.pkl"
    payload.write_bytes(pickle.dumps({file_module_name(nets): str(nets)}) + pickle.dumps(model))
    script = ("import pickle, sys\nfrom recalib.sources.user_code import import_files\n"
              "with open(sys.argv[1], 'rb') as f:\n    import_files(pickle.load(f))\n    model = pickle.load(f)\n"
              "print(type(model).__name__, model.conv.out_channels)\n")
    done = subprocess.run([sys.executable, "-c", script, str(payload)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["Tiny", "5"]


def test_a_file_recorded_under_another_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "net.py"
    path.write_text("X = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"was imported as _recalib_user_other, which is not its name here"):
        import_files({"_recalib_user_other": str(path)})
