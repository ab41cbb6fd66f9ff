"""Importing a user's code (``FILE.py`` or ``package.module``), here and again in a worker process.

A file is imported the way Python runs a script: its folder is on the import path while it
runs, so it can import its neighbours. It becomes a module of its own, named after its resolved
path (:func:`file_module_name`), never after its stem: ``models.py`` must not replace an
installed ``models`` package, and the same file always gets the same name. A module is
imported as ``python -m`` would find it: the current folder first.

Classes defined in a user's file are pickled by reference to that name, so a timing worker
process (:mod:`recalib.deploy._worker`) imports the same files under the same names
(:func:`import_files`, with :func:`imported_files` from the parent) before it reads its job.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from recalib.errors import ConfigError, first_line

__all__ = ["import_file", "import_module", "find_attribute", "file_module_name", "imported_files", "import_files"]

# Module name -> (file, its modification time and size when imported): the files this process imported.
_IMPORTED: dict[str, tuple[str, tuple[int, int]]] = {}


def file_module_name(path: Path) -> str:
    """The module name of the file at ``path``: its stem, plus a digest of its resolved path."""
    resolved = str(path.resolve())
    stem = re.sub(r"\W", "_", path.stem)
    return f"_recalib_user_{stem}_{hashlib.sha256(resolved.encode()).hexdigest()[:12]}"


@contextlib.contextmanager
def _on_path(folder: str) -> Iterator[None]:
    """``folder`` first on the import path while the block runs (as for a script, or ``python -m``)."""
    sys.path.insert(0, folder)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(folder)


@contextlib.contextmanager
def _no_bytecode() -> Iterator[None]:
    """No ``__pycache__`` is written beside the user's files while they are imported: recalib writes only
    the outputs it is asked for."""
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        yield
    finally:
        sys.dont_write_bytecode = before


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def import_file(path: Path) -> ModuleType:
    """The module of the Python file at ``path``, imported (its code run) unless it already is, unchanged."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file" + (" (it is a folder)" if path.is_dir() else ""))
    name = file_module_name(path)
    loaded = sys.modules.get(name)
    if loaded is not None and _IMPORTED.get(name, ("", (0, 0)))[1] == _stamp(path):
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{path} cannot be imported as Python code; name a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before it runs: its dataclasses and pickling look it up by name
    try:
        with _on_path(str(path.resolve().parent)), _no_bytecode():
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # a script that calls sys.exit() when imported, too
        sys.modules.pop(name, None)
        raise ConfigError(f"importing {path} failed ({type(exc).__name__}: {first_line(exc)}); fix the file, "
                          f"or run it with python to see where") from exc
    _IMPORTED[name] = (str(path.resolve()), _stamp(path))
    return module


def import_module(name: str) -> ModuleType:
    """The module ``name`` (``package.module``), imported with the current folder first on the path."""
    try:
        with _on_path(os.getcwd()):
            return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise ConfigError(f"no Python module named {exc.name!r} (for {name}: is it installed, or in the "
                              f"current folder?); name a file as path/to/file.py:factory") from None
        raise ConfigError(f"importing {name} failed: {first_line(exc)} (a module it imports is missing)") from exc
    except Exception as exc:
        raise ConfigError(f"importing {name} failed ({type(exc).__name__}: {first_line(exc)}); fix the module, "
                          f"or import it in python to see where") from exc


def find_attribute(module: ModuleType, dotted: str, where: str) -> Any:
    """``module.<dotted>`` (``factory`` or ``Class.method``), or an error listing what ``where`` has."""
    value: Any = module
    for part in dotted.split("."):
        if not hasattr(value, part):
            public = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                            and getattr(v, "__module__", None) == module.__name__)
            raise ConfigError(f"{where} has no attribute {dotted!r}; its functions and classes: "
                              f"{', '.join(public) or 'none'}")
        value = getattr(value, part)
    return value


def imported_files() -> dict[str, str]:
    """Module name → file of every user's file imported in this process (for :func:`import_files`)."""
    return {name: file for name, (file, _) in _IMPORTED.items() if name in sys.modules}


def import_files(files: Mapping[str, str]) -> None:
    """Import each file again under the name it had (in a worker process, before unpickling its job)."""
    for name, file in files.items():
        if file_module_name(Path(file)) != name:
            raise ConfigError(f"{file} was imported as {name}, which is not its name here")
        import_file(Path(file))
