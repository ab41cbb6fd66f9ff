"""The one rule for every file recalib writes.

* **Whole or not at all**: files are written into a claimed staging folder beside their
  destination (same filesystem) and moved into place only when everything is written and
  checked; a failure, or an exception anywhere before :meth:`Staging.commit` (SIGTERM
  included, which the command line turns into an exception), leaves no file behind. A staging
  folder left by a killed run is swept by the next run that writes into the same folder
  (:mod:`recalib.infra.workspace`).
* **Never over an existing file without force**: without ``force`` a destination is claimed
  create-exclusively (a hard link of the finished file to the final name, which fails if the
  name exists), so of two runs writing one path exactly one wins; the other gets an
  :class:`~recalib.errors.OutputError` and none of its files are placed, so files written
  together (an export and its report) never end up half from one run and half from another.
* **Never over an input**, even with force: a destination that is (or links to) one of the
  run's inputs is refused.
* **Only ever a regular file**: a destination is absent or a regular file (or a link to one);
  a device node, FIFO, socket, folder or dangling link is refused, even with force (replacing
  a ``/dev/null`` or a link the user left pointing somewhere is never what was meant).
* **Ordinary permissions**: what a plain ``open()`` would give (``0o666`` minus the umask),
  whatever the writer used (``mkstemp`` makes ``0o600``).

Every refusal is an :class:`~recalib.errors.OutputError` (exit status 2), raised by
:func:`check_destinations` before any work and again at commit.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from recalib.errors import OutputError
from recalib.infra.reading import describe_mode
from recalib.infra.workspace import ClaimedFolder, sweep

__all__ = ["check_destinations", "occupant", "file_path", "same_file", "Staging", "staging", "write_atomic", "STAGING_PREFIX"]

STAGING_PREFIX = ".recalib-staging-"


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether ``a`` and ``b`` both exist and are one file (same inode: links and symlinks count)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def file_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, or an :class:`OutputError` if it names a folder rather than a file."""
    path = Path(path)
    if not path.name or path.is_dir():
        raise OutputError(f"output path {str(path)!r} is a folder, not a file; give a file name such as "
                          f"{path / 'model.onnx'}")
    return path


def occupant(path: str | os.PathLike) -> str | None:
    """What sits at ``path`` when it is not a plain file to replace: "a FIFO", "a dangling symbolic link", …;
    None when the name is free or holds a regular file (or a link to one)."""
    try:
        status = os.lstat(path)
        if stat.S_ISLNK(status.st_mode):
            status = os.stat(path)
    except FileNotFoundError:
        return None if not os.path.islink(path) else "a dangling symbolic link"
    except OSError as exc:
        return f"something that cannot be inspected ({exc.strerror})"
    return None if stat.S_ISREG(status.st_mode) else describe_mode(status.st_mode)


def check_destinations(paths: Sequence[Path], force: bool, inputs: Iterable[str | os.PathLike] = ()) -> None:
    """Refuse, before any work, a destination that cannot or may not be written (:class:`OutputError`)."""
    inputs = [Path(p) for p in inputs]
    for path in map(file_path, paths):
        parent = path.parent
        if not parent.is_dir():
            raise OutputError(f"cannot write {path}: the folder {parent} does not exist; create it first")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise OutputError(f"cannot write {path}: the folder {parent} is not writable")
        source = next((p for p in inputs if same_file(p, path)), None)
        if source is not None:
            which = "" if str(source) == str(path) else f" (the same file as {source})"
            raise OutputError(f"{path} is an input of this run{which}: writing there would destroy it "
                              f"(--force does not allow that); choose another output path")
        kind = occupant(path)
        if kind is not None:
            raise OutputError(f"{path} is {kind}, not a regular file: recalib writes only regular files, "
                              f"--force or not; choose another output path")
        if os.path.lexists(path) and not force:
            raise OutputError(f"{path} already exists; pass force=True (--force) to overwrite it")


def _normal_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _place(staged: Path, final: Path, force: bool) -> None:
    """Move ``staged`` to ``final``: replacing it with ``force``, else only if the name is free."""
    if force:
        os.replace(staged, final)
        return
    try:
        os.link(staged, final)  # atomic create-exclusive: FileExistsError if the name is taken
    except FileExistsError:
        raise
    except OSError:  # a filesystem without hard links: claim the name, then fill it
        os.close(os.open(final, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        os.replace(staged, final)


class Staging:
    """A claimed folder beside the destinations; :meth:`commit` moves the staged files in."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        sweep(self.directory, STAGING_PREFIX)
        try:
            self._folder = ClaimedFolder(self.directory, STAGING_PREFIX)
        except OSError as exc:
            raise OutputError(f"cannot write into {directory}: {exc}") from exc
        self.root = self._folder.path
        self._moves: list[tuple[Path, Path]] = []

    def file(self, final: Path) -> Path:
        """Where to write the file that will become ``final`` (only files actually written move).

        The staged file has ``final``'s name, so files that name each other (an ONNX model and
        its ``.data`` weights) stay consistent.
        """
        staged = self.root / Path(final).name
        self._moves.append((staged, Path(final)))
        return staged

    def commit(self, force: bool = False, inputs: Iterable[str | os.PathLike] = ()) -> None:
        """Move every staged file into place, all or none (see the module docstring)."""
        moves = [(staged, final) for staged, final in self._moves if staged.exists()]
        check_destinations([final for _, final in moves], force, inputs)
        mode, done = _normal_mode(), []
        try:
            for staged, final in moves:
                os.chmod(staged, mode)
                _place(staged, final, force)
                done.append(final)
        except OSError as exc:
            for final in done:
                final.unlink(missing_ok=True)
            if isinstance(exc, FileExistsError):
                raise OutputError(f"{exc.filename} appeared while this run was working (another run wrote it); "
                                  f"none of this run's {len(moves)} file(s) were placed; pass --force to "
                                  f"replace it") from None
            raise OutputError(f"could not move {len(moves)} file(s) into {self.directory}: {exc}") from exc

    def discard(self) -> None:
        self._folder.remove()


@contextmanager
def staging(directory: Path) -> Iterator[Staging]:
    """Yield a :class:`Staging`; whatever is not committed is deleted on exit, error or not."""
    stage = Staging(directory)
    try:
        yield stage
    finally:
        stage.discard()


def write_atomic(path: str | Path, content: str | bytes, *, force: bool = False,
                 inputs: Iterable[str | os.PathLike] = ()) -> Path:
    """Write ``content`` (text as UTF-8) to ``path`` whole or not at all; returns the path."""
    path, inputs = Path(path), list(inputs)
    check_destinations([path], force, inputs)
    with staging(path.parent) as stage:
        stage.file(path).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        stage.commit(force, inputs)
    return path
