"""A report folder that recalib writes into, and only ever deletes what it can prove it wrote.

A folder may be written again and again: the report's own files are replaced, files an earlier
report wrote and this one does not are removed, and everything else is left alone. "Its own"
needs proof, not a name in a file anyone can edit: each report leaves a record,
``.recalib-report.json`` (the tool, a run id, and the SHA-256 of every file it wrote), and a
file counts as recalib's only while its content still has the recorded checksum. So

* a file recalib did not write (a ``report.json`` from elsewhere, a thesis next to it), or one
  edited since, is never deleted, and never replaced without ``force`` (``--force``): that is
  refused before any work;
* a run holds the folder (an exclusive lock, :class:`recalib.infra.workspace.FolderLock`) from before
  its work until its report is written, so a second run into the same folder is refused at once
  instead of deleting the first one's report later;
* the record is written first with the new files' checksums added to the old ones', so a run cut
  short mid-write still leaves every file it wrote provably its own.
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

from recalib.infra.atomic import write_atomic
from recalib.errors import OutputError
from recalib.infra.workspace import FolderLock

__all__ = ["ReportFolder", "RECORD", "check_folder"]

RECORD = ".recalib-report.json"


def _sha256(content: str | bytes) -> str:
    return hashlib.sha256(content.encode("utf-8") if isinstance(content, str) else content).hexdigest()


def check_folder(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, or :class:`OutputError` if it (or a parent) is not a writable folder."""
    folder = Path(out_dir)
    for path in (folder, *folder.parents):
        if path.exists():
            if not path.is_dir():
                raise OutputError(f"report folder {folder}: {path} exists and is not a folder; choose "
                                  f"another -o DIR")
            if not os.access(path, os.W_OK | os.X_OK):
                raise OutputError(f"report folder {folder}: {path} is not writable; choose another -o DIR")
            break
    return folder


def _recorded(folder: Path) -> dict[str, str]:
    """Name → checksum of the files the last report recorded (none if the record is missing or damaged)."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        files = record["files"] if isinstance(record, dict) and isinstance(record.get("files"), dict) else {}
    except (OSError, ValueError, KeyError):
        return {}
    # Only plain names: a tampered record must not reach outside the folder.
    return {n: h for n, h in files.items() if isinstance(n, str) and isinstance(h, str)
            and n == Path(n).name and not n.startswith(".")}


def _proven(folder: Path) -> dict[str, str]:
    """The recorded files whose content still has the recorded checksum: the ones recalib may replace."""
    proven = {}
    for name, digest in _recorded(folder).items():
        path = folder / name
        try:
            if path.is_file() and not path.is_symlink() and _sha256(path.read_bytes()) == digest:
                proven[name] = digest
        except OSError:
            continue
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
        """Refuse (without force) to replace a file that recalib cannot prove it wrote."""
        foreign = sorted(n for n in set(names) if (self.folder / n).exists() and n not in self.previous)
        if foreign and not self.force:
            raise OutputError(f"{self.folder} holds {', '.join(foreign)}, which this report would replace, and "
                              f"recalib cannot prove it wrote {'them' if len(foreign) > 1 else 'it'} (no checksum "
                              f"in {RECORD}, or changed since); move {'them' if len(foreign) > 1 else 'it'} away, "
                              f"choose another -o DIR, or pass --force to replace")

    def write(self, files: Mapping[str, str | bytes]) -> list[Path]:
        """Write ``files`` (name → content), then remove what an earlier report wrote and this one does not."""
        self.check(files)
        digests = {name: _sha256(content) for name, content in files.items()}
        self._record({**self.previous, **digests})
        written = [write_atomic(self.folder / name, content, force=True) for name, content in files.items()]
        for name in set(self.previous) - set(files):
            if _proven(self.folder).get(name) == self.previous[name]:
                (self.folder / name).unlink(missing_ok=True)
        self._record(digests)
        self.previous = digests
        return written

    def _record(self, digests: Mapping[str, str]) -> None:
        record: dict[str, Any] = {"tool": self.tool, "run_id": self.run_id,
                                  "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": dict(digests)}
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
