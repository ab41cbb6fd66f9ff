"""A report folder that recalib writes into, and only ever deletes what it can prove it wrote.

A folder may be written again and again: the report's own files are replaced, files an earlier
report wrote and this one does not are removed, and everything else is left alone. "Its own"
needs proof that a user cannot forge: a checksum proves a file unchanged, not that recalib wrote
it (anyone can compute one and list it). So each report leaves a record, ``.recalib-report.json``,
holding for every file it wrote a *seal*: an HMAC under this user's secret key
(:mod:`recalib.infra.seal`) of the folder's identity, the file's name and its content's SHA-256.
A file counts as recalib's only while its content still matches a seal of the record; a record
copied from another folder, or one a user wrote, proves nothing. So

* a file recalib did not write (a ``report.json`` from elsewhere, a thesis next to it), or one
  edited since, is never deleted, and never replaced without ``force`` (``--force``): that is
  refused before any work;
* a name the report writes must be a regular file or absent, ``--force`` or not: a folder named
  ``report.md``, a dangling link, a FIFO or a device is refused before any work;
* a run holds the folder (an exclusive lock, :class:`recalib.infra.workspace.FolderLock`) from before
  its work until its report is written, so a second run into the same folder is refused at once
  instead of deleting the first one's report later;
* the files and the record commit together: the record first lists both the old and the new seal
  of every name, then all files are staged beside their names and moved in together (a full disk
  while writing leaves the old files untouched), then the record keeps the new seals only. A run
  cut short anywhere leaves a record that proves whichever version each file holds.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from recalib.errors import OutputError, RecalibError
from recalib.infra.atomic import occupant, staging, write_atomic
from recalib.infra.reading import MAX_SMALL_FILE, parse_json, read_bounded
from recalib.infra.seal import seal
from recalib.infra.workspace import FolderLock

__all__ = ["ReportFolder", "RECORD", "check_folder"]

RECORD = ".recalib-report.json"


def check_folder(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, or :class:`OutputError` if it (or a parent) is not a writable folder."""
    folder = Path(out_dir)
    for path in (folder, *folder.parents):
        if os.path.lexists(path):
            if not path.is_dir():
                raise OutputError(f"report folder {folder}: {path} exists and is not a folder; choose "
                                  f"another -o DIR")
            if not os.access(path, os.W_OK | os.X_OK):
                raise OutputError(f"report folder {folder}: {path} is not writable; choose another -o DIR")
            break
    return folder


def _seal(folder: Path, name: str, content: str | bytes) -> str | None:
    """The seal of ``content`` written as ``name`` into ``folder`` (None without a key: nothing is provable)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return seal("recalib report", str(os.stat(folder).st_ino), name, hashlib.sha256(data).hexdigest())


def _recorded(folder: Path) -> dict[str, list[str]]:
    """Name → seals of the files the record lists (none if the record is missing, damaged or not a file)."""
    try:
        record = parse_json(read_bounded(folder / RECORD, what="report record", error=OutputError), RECORD)
    except RecalibError:
        return {}
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, dict):
        return {}
    # Only plain names: a tampered record must not reach outside the folder.
    return {n: [s for s in seals if isinstance(s, str)] for n, seals in files.items()
            if isinstance(n, str) and isinstance(seals, list) and n == Path(n).name and not n.startswith(".")}


def _proven(folder: Path) -> dict[str, str]:
    """Name → seal of the recorded files whose present content has a seal of the record: recalib may replace them."""
    proven = {}
    for name, seals in _recorded(folder).items():
        path = folder / name
        if path.is_symlink():
            continue
        try:
            current = _seal(folder, name, read_bounded(path, MAX_SMALL_FILE, error=OutputError))
        except (RecalibError, OSError):
            continue
        if current is not None and current in seals:
            proven[name] = current
    return proven


class ReportFolder:
    """``out_dir`` held by this run (see the module docstring); :meth:`close` lets it go."""

    def __init__(self, out_dir: str | Path, names: Iterable[str], force: bool = False,
                 tool: str = "recalib audit") -> None:
        self.folder, self.force, self.tool = check_folder(out_dir), force, tool
        self.run_id = secrets.token_hex(8)
        self._created = not self.folder.exists()
        self.folder.mkdir(parents=True, exist_ok=True)
        lock = FolderLock.try_acquire(self.folder)
        if lock is None:
            self._remove_if_created()
            raise OutputError(f"another recalib run is writing a report into {self.folder}; wait for it to "
                              f"finish, or choose another -o DIR")
        self._lock: FolderLock | None = lock
        self.previous = _proven(self.folder)
        try:
            self.check(names)
        except OutputError:
            self.close()
            raise

    def check(self, names: Iterable[str]) -> None:
        """Refuse a name that is not a regular file, and (without force) a file recalib cannot prove it wrote."""
        for name in sorted({*names, RECORD}):
            kind = occupant(self.folder / name)
            if kind is not None:
                raise OutputError(f"{self.folder / name} is {kind}, where this report writes a file; recalib "
                                  f"replaces only regular files (--force or not): move it away or choose another -o DIR")
        foreign = sorted(n for n in set(names) if os.path.lexists(self.folder / n) and n not in self.previous)
        if foreign and not self.force:
            them = "them" if len(foreign) > 1 else "it"
            raise OutputError(f"{self.folder} holds {', '.join(foreign)}, which this report would replace, and "
                              f"recalib cannot prove it wrote {them} (not sealed in {RECORD} by this user's "
                              f"recalib, or changed since); move {them} away, choose another -o DIR, or pass "
                              f"--force to replace")

    def write(self, files: Mapping[str, str | bytes]) -> list[Path]:
        """Write ``files`` (name → content), then remove what an earlier report wrote and this one does not."""
        self.check(files)
        seals = {name: _seal(self.folder, name, content) for name, content in files.items()}
        both = {name: sorted(s for s in {self.previous.get(name), seals.get(name)} if s)
                for name in {*self.previous, *seals}}
        self._record(both)  # proves the old and the new version of each file while they change
        with staging(self.folder) as stage:
            for name, content in files.items():
                data = content.encode("utf-8") if isinstance(content, str) else content
                stage.file(self.folder / name).write_bytes(data)
            stage.commit(force=True)
        still = _proven(self.folder)
        for name in set(self.previous) - set(files):
            if still.get(name) == self.previous[name]:
                (self.folder / name).unlink(missing_ok=True)
        self._record({name: [s] for name, s in seals.items() if s})
        self.previous = {name: s for name, s in seals.items() if s}
        return [self.folder / name for name in files]

    def _record(self, seals: Mapping[str, list[str]]) -> None:
        record: dict[str, Any] = {"tool": self.tool, "run_id": self.run_id,
                                  "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": dict(seals)}
        write_atomic(self.folder / RECORD, json.dumps(record, indent=2) + "\n", force=True)

    def _remove_if_created(self) -> None:
        """A folder this run created and left empty (it failed before writing) goes again."""
        if self._created:
            try:
                self.folder.rmdir()  # fails unless empty
            except OSError:
                pass

    def close(self) -> None:
        self._remove_if_created()
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> ReportFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
