"""Atomic output: everything is written to a private staging folder next to the destination
and moved into place only after verification, so a failed export leaves no file behind and
an existing file is never replaced without ``force``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from recalib.errors import ExportError

__all__ = ["check_destinations", "Staging", "staging"]


def check_destinations(paths: Sequence[Path], force: bool) -> None:
    """Fail early, before any work, if a destination cannot or may not be written."""
    for path in paths:
        parent = path.parent
        if path.is_dir():
            raise ExportError(f"output path {path} is a directory; give a file name such as {path / 'model.onnx'}")
        if not parent.is_dir():
            raise ExportError(f"cannot write {path}: the folder {parent} does not exist; create it first")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ExportError(f"cannot write {path}: the folder {parent} is not writable")
        if path.exists() and not force:
            raise ExportError(f"{path} already exists; pass force=True (--force) to overwrite it")


class Staging:
    """A temporary folder on the destination's filesystem (so the final move is atomic)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            self.root = Path(tempfile.mkdtemp(prefix=".recalib-staging-", dir=directory))
        except OSError as exc:
            raise ExportError(f"cannot write into {directory}: {exc}") from exc
        self._moves: list[tuple[Path, Path]] = []

    def file(self, final: Path) -> Path:
        """Where to write the file that will become ``final`` (only files actually written move)."""
        staged = self.root / final.name
        self._moves.append((staged, final))
        return staged

    def commit(self, force: bool) -> None:
        """Move every staged file into place; if one move fails, undo the ones already made."""
        moves = [(staged, final) for staged, final in self._moves if staged.exists()]
        check_destinations([final for _, final in moves], force)  # a file may have appeared meanwhile
        done: list[Path] = []
        try:
            for staged, final in moves:
                os.replace(staged, final)
                done.append(final)
        except OSError as exc:
            for final in done:
                final.unlink(missing_ok=True)
            raise ExportError(f"could not move the export into place: {exc}") from exc

    def discard(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def staging(directory: Path) -> Iterator[Staging]:
    """Yield a :class:`Staging`; whatever is not committed is deleted on exit, error or not."""
    stage = Staging(directory)
    try:
        yield stage
    finally:
        stage.discard()
