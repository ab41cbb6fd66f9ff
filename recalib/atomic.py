"""Every file recalib writes appears whole or not at all, with ordinary permissions.

Files are written into a private staging folder beside their destination (same filesystem,
so the final ``os.replace`` is atomic) and moved into place only when everything is written
and checked; a failure, or an exception anywhere before :meth:`Staging.commit`, leaves no
file behind. Staged files get the permissions a plain ``open()`` would give them
(``0o666`` minus the umask), whatever the writer used (``mkstemp`` makes ``0o600``).

:func:`write_atomic` is the one-file case; :func:`staging` serves writers that need a file
name (ONNX, safetensors, TensorRT engines) or write several files that belong together (an
export and its report).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from recalib.errors import RecalibError

__all__ = ["check_destinations", "Staging", "staging", "write_atomic"]

STAGING_PREFIX = ".recalib-staging-"


def check_destinations(paths: Sequence[Path], force: bool, error: type[RecalibError] = RecalibError) -> None:
    """Fail early, before any work, if a destination cannot or may not be written."""
    for path in paths:
        parent = path.parent
        if path.is_dir():
            raise error(f"output path {path} is a directory; give a file name such as {path / 'model.onnx'}")
        if not parent.is_dir():
            raise error(f"cannot write {path}: the folder {parent} does not exist; create it first")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise error(f"cannot write {path}: the folder {parent} is not writable")
        if path.exists() and not force:
            raise error(f"{path} already exists; pass force=True (--force) to overwrite it")


def _normal_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


class Staging:
    """A temporary folder beside the destinations; :meth:`commit` moves the staged files in."""

    def __init__(self, directory: Path, error: type[RecalibError] = RecalibError) -> None:
        self.directory, self.error = Path(directory), error
        try:
            self.root = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.directory))
        except OSError as exc:
            raise error(f"cannot write into {directory}: {exc}") from exc
        self._moves: list[tuple[Path, Path]] = []

    def file(self, final: Path) -> Path:
        """Where to write the file that will become ``final`` (only files actually written move).

        The staged file has ``final``'s name, so files that name each other (an ONNX model and
        its ``.data`` weights) stay consistent.
        """
        staged = self.root / Path(final).name
        self._moves.append((staged, Path(final)))
        return staged

    def commit(self, force: bool = True) -> None:
        """Move every staged file into place; if one move fails, undo the ones already made."""
        moves = [(staged, final) for staged, final in self._moves if staged.exists()]
        check_destinations([final for _, final in moves], force, self.error)  # one may have appeared meanwhile
        mode, done = _normal_mode(), []
        try:
            for staged, final in moves:
                os.chmod(staged, mode)
                os.replace(staged, final)
                done.append(final)
        except OSError as exc:
            for final in done:
                final.unlink(missing_ok=True)
            raise self.error(f"could not move {len(moves)} file(s) into {self.directory}: {exc}") from exc

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def staging(directory: Path, error: type[RecalibError] = RecalibError) -> Iterator[Staging]:
    """Yield a :class:`Staging`; whatever is not committed is deleted on exit, error or not."""
    stage = Staging(directory, error)
    try:
        yield stage
    finally:
        stage.discard()


def write_atomic(path: str | Path, content: str | bytes, *, force: bool = True,
                 error: type[RecalibError] = RecalibError) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` whole or not at all; returns the path."""
    path = Path(path)
    check_destinations([path], force, error)
    with staging(path.parent, error) as stage:
        stage.file(path).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        stage.commit(force)
    return path
