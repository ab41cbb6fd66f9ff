"""Standard output that may close under a command (``| head -1``) or fill its disk (``> /dev/full``).

Such a failure is handled like an interrupt: no traceback, a distinct exit status, outputs
complete or untouched. A command that writes files (``-o``) keeps working when its printed
output fails, so its result is not lost because nobody reads the text any more; a command that
only prints stops at once. Either way the descriptor is pointed at the null device, so later
prints (and the interpreter's last flush) cannot fail again.
"""
from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["GuardedStdout", "stdout_closed"]


def stdout_closed() -> bool:
    """Whether standard output was closed before recalib started (``>&-``): Python then prints nowhere, silently."""
    if sys.stdout is None:
        return True
    try:
        descriptor = sys.stdout.fileno()
    except (OSError, ValueError):
        return False  # an in-memory stream (a test's capture): nothing to lose
    try:
        os.fstat(descriptor)
    except OSError:
        return True
    return False


class GuardedStdout:
    """Wraps ``sys.stdout`` while a command runs; :attr:`failure` is the first write error, if any."""

    def __init__(self, stream: TextIO, keep_working: bool) -> None:
        self._stream, self._keep_working = stream, keep_working
        self.failure: OSError | None = None

    def write(self, text: str) -> int:
        return self._guard(lambda: self._stream.write(text), len(text))

    def flush(self) -> None:
        self._guard(self._stream.flush, 0)

    def _guard(self, call: object, fallback: int) -> int:
        if self.failure is not None:
            return fallback
        try:
            result = call()  # type: ignore[operator]
        except OSError as exc:
            self.failure = exc
            self._detach()
            if not self._keep_working:
                raise
            return fallback
        return int(result or fallback)

    def _detach(self) -> None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str) -> object:
        return getattr(self._stream, name)
