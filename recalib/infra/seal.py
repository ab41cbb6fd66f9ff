"""A per-user secret that lets recalib prove it wrote a file: a checksum alone proves nothing.

Anyone can compute a file's SHA-256 and put it in a record; nobody without the key can compute
``seal(...)``. The key is 32 random bytes in ``$XDG_STATE_HOME/recalib/key`` (default
``~/.local/state/recalib/key``), readable only by its owner, made on first use. Where it
cannot be made or read, :func:`seal` returns None and nothing is ever proven, so recalib then
replaces or deletes nothing it did not write in this run (the safe side: a refusal asks for
``--force``).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from recalib.errors import ConfigError
from recalib.infra.reading import read_bounded

__all__ = ["key_path", "seal"]

_KEY_BYTES = 32


def key_path() -> Path:
    """Where this user's key lives."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "recalib" / "key"


def _make_key(path: Path) -> None:
    """Write a new key whole, then link it into place: a run killed mid-write leaves no short key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, staged = tempfile.mkstemp(prefix=".key-", dir=path.parent)  # mode 0o600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(_KEY_BYTES))
        os.link(staged, path)
    except FileExistsError:
        pass  # another run made it first: use theirs
    finally:
        os.unlink(staged)


def _key() -> bytes | None:
    path = key_path()
    try:
        if not os.path.lexists(path):
            _make_key(path)
        key = read_bounded(path, _KEY_BYTES, "recalib key")
    except (OSError, ConfigError):
        return None
    return key if len(key) == _KEY_BYTES else None


def seal(*parts: str) -> str | None:
    """An HMAC-SHA256 of ``parts`` under this user's key (hex), or None when there is no key."""
    key = _key()
    if key is None:
        return None
    return hmac.new(key, "\0".join(parts).encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()
