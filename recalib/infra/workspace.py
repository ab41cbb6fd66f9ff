"""Folders a run owns while it works, and the sweep of those whose run died.

A folder a run creates for its work (exports being timed, a worker's job, files staged beside
their destination) is *claimed*: the run holds an exclusive ``flock`` on the folder and has
written a ``.recalib-claim`` file (tool, process id, host, start time, and the folder's own path
and inode) into it. The kernel drops the lock when the process ends, however it ends (SIGKILL
included), so a later run tells a folder a dead run left behind (claim present, lock free) from
one a live run is using (lock held) and deletes only the former: never a folder without a claim,
never a live run's. A claim names the one folder it was written into: a copy of a work folder
(``cp -r /tmp/recalib-bench-x keep`` to keep its exports) or one the user renamed is a folder the
user made, with a claim whose path or inode is not its own, and is never swept; nor is a claim
from another host (a shared temporary folder, where the lock proves nothing about that host's runs).
:func:`temporary_folder` sweeps before it creates, so litter lasts until the next run at most.

Where ``fcntl`` is missing (Windows) nothing is ever swept: liveness cannot be proven there.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from recalib.errors import ConfigError
from recalib.infra.reading import parse_json, read_bounded

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["CLAIM", "TEMP_PREFIX", "FolderLock", "ClaimedFolder", "sweep", "temporary_folder"]

CLAIM = ".recalib-claim"
_CLAIM_LIMIT = 64 * 1024
TEMP_PREFIX = "recalib-"


class FolderLock:
    """An exclusive, non-blocking lock on a folder, held until :meth:`release` or process exit.

    ``held`` is False where no lock can be taken at all (no ``fcntl``, a filesystem without
    locks): nothing is then claimed, so nothing is ever swept on its strength.
    """

    def __init__(self, fd: int | None) -> None:
        self._fd = fd
        self.held = fd is not None

    @classmethod
    def try_acquire(cls, folder: Path) -> FolderLock | None:
        """The lock, or None when another process holds it."""
        if fcntl is None:
            return cls(None)
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return cls(None)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        except OSError:
            os.close(fd)
            return cls(None)
        return cls(fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _identity(folder: Path) -> dict[str, Any]:
    """What ties a claim to the one folder it was written into: its path, device and inode."""
    status = os.stat(folder)
    return {"path": os.path.abspath(folder), "device": status.st_dev, "inode": status.st_ino,
            "host": socket.gethostname()}


def _claim_text(folder: Path, tool: str) -> str:
    return json.dumps({"tool": tool, "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "argv": sys.argv[:1], **_identity(folder)})


def _claims_itself(folder: Path) -> bool:
    """Whether ``folder`` holds a recalib claim written into this very folder on this host (see the module docstring)."""
    try:
        claim = parse_json(read_bounded(folder / CLAIM, _CLAIM_LIMIT, "work folder claim"), CLAIM)
        identity = _identity(folder)
    except (ConfigError, OSError):
        return False
    return isinstance(claim, dict) and str(claim.get("tool", "")).startswith("recalib") and all(
        claim.get(key) == value for key, value in identity.items())


class ClaimedFolder:
    """A new folder under ``parent`` named ``prefix…``, claimed by this process (see the module docstring)."""

    def __init__(self, parent: Path, prefix: str, tool: str = "recalib") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        self._lock = FolderLock.try_acquire(self.path)
        if self._lock is not None and self._lock.held:  # an unlocked claim could be swept from a live run
            (self.path / CLAIM).write_text(_claim_text(self.path, tool), encoding="utf-8")

    def remove(self) -> None:
        """Delete the folder and everything in it, then drop the claim."""
        shutil.rmtree(self.path, ignore_errors=True)
        if self._lock is not None:
            self._lock.release()


def sweep(parent: Path, prefix: str) -> list[Path]:
    """Delete the claimed folders named ``prefix…`` in ``parent`` whose run has ended; returns them."""
    removed: list[Path] = []
    try:
        entries = [e for e in Path(parent).iterdir() if e.name.startswith(prefix)]
    except OSError:
        return removed
    for entry in entries:
        if entry.is_symlink() or not entry.is_dir() or not _claims_itself(entry):
            continue
        lock = FolderLock.try_acquire(entry)
        if lock is None or not lock.held:
            continue  # a live run holds it, or liveness cannot be proven here
        try:
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
        finally:
            lock.release()
    return removed


@contextmanager
def temporary_folder(prefix: str, tool: str = "recalib") -> Iterator[Path]:
    """A claimed folder ``recalib-<prefix>…`` in the system temporary folder (``TMPDIR``), removed
    on exit, error or not; every stale ``recalib-…`` folder there is swept first."""
    parent = Path(tempfile.gettempdir())
    sweep(parent, TEMP_PREFIX)
    folder = ClaimedFolder(parent, f"{TEMP_PREFIX}{prefix}", tool)
    try:
        yield folder.path
    finally:
        folder.remove()
