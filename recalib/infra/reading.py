"""The one rule for every file recalib reads: a regular file of bounded size, checked before it is opened.

A FIFO where a small JSON file was expected would block forever, and ``/dev/zero`` would be
read until memory runs out; a huge file named like a report would be loaded whole. So every
read first checks, on the path itself and without opening it, that it is a regular file (or
a link to one) no larger than the caller's limit, then opens it without blocking
(``O_NONBLOCK``: a FIFO swapped in after the check cannot hang the open) and checks the same
again on the open descriptor. Errors name a path whole up to the system's longest path, and quote
at most a bounded prefix of anything else (:func:`recalib.errors.shorten`), so a 10 MB value never
lands whole in a message.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

from recalib.errors import QUOTE_LIMIT, ConfigError, RecalibError, shorten

__all__ = ["MAX_SMALL_FILE", "PATH_LIMIT", "describe_mode", "check_regular", "read_bounded", "file_sha256", "parse_json"]

PATH_LIMIT = 4096  # PATH_MAX on Linux
MAX_SMALL_FILE = 64 * 1024 * 1024  # a report, a record, a manifest: far larger means it is not one


def _named(path: Path) -> str:
    """``path`` for a message: whole up to the system's longest path (its file name is what tells most)."""
    return shorten(str(path), PATH_LIMIT)


def describe_mode(mode: int) -> str:
    """What a file of ``mode`` is, in words, when it is not a regular file ("a FIFO", "a folder", …)."""
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return kind
    return "not a regular file"


def _check(status: os.stat_result, path: Path, limit: int, what: str, error: type[RecalibError]) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise error(f"{what} {_named(path)} is {describe_mode(status.st_mode)}, not a regular file")
    if status.st_size > limit:
        raise error(f"{what} {_named(path)} is {status.st_size} bytes, more than the {limit} a {what} "
                    f"can be; it is not one")


def check_regular(path: str | os.PathLike, limit: int, what: str = "file",
                  error: type[RecalibError] = ConfigError) -> Path:
    """``path`` as a Path once it is proven a regular file of at most ``limit`` bytes (else ``error``)."""
    path = Path(path)
    try:
        status = os.stat(path)
    except FileNotFoundError:
        broken = " (a symbolic link to a missing file)" if os.path.islink(path) else ""
        raise error(f"{what} {_named(path)} does not exist{broken}") from None
    except OSError as exc:
        raise error(f"cannot read {what} {_named(path)}: {exc.strerror}") from None
    _check(status, path, limit, what, error)
    return path


def read_bounded(path: str | os.PathLike, limit: int = MAX_SMALL_FILE, what: str = "file",
                 error: type[RecalibError] = ConfigError) -> bytes:
    """The bytes of ``path``, a regular file of at most ``limit`` bytes; anything else is ``error``."""
    path = check_regular(path, limit, what, error)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise error(f"cannot read {what} {_named(path)}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        _check(os.fstat(fd), path, limit, what, error)  # what was opened, not only what was checked
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise error(f"{what} {_named(path)} grew past {limit} bytes while it was read")
    return data


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of the file at ``path`` (hex), read in chunks: what binds a report to the one file it describes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def parse_json(text: str | bytes, what: str, error: type[RecalibError] = ConfigError) -> Any:
    """JSON ``text`` parsed, or ``error`` naming ``what`` (too deeply nested included, never a RecursionError)."""
    try:
        return json.loads(text)
    except RecursionError:
        raise error(f"{what} is nested too deeply to be read as JSON") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{what} is not valid JSON ({str(exc)[:QUOTE_LIMIT]})") from None
