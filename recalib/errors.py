"""The one exception hierarchy of recalib.

Every error a user can cause is a :class:`RecalibError`; its message says what was wrong and
what to do. The command line maps each class to a distinct exit code (``exit_code``), so
scripts can tell bad usage from a missing backend from a failed verification.
"""
from __future__ import annotations

__all__ = [
    "RecalibError",
    "ConfigError",
    "UnknownNameError",
    "OutputError",
    "ShapeError",
    "DataError",
    "CheckpointError",
    "ExportError",
    "VerificationError",
    "BackendUnavailable",
    "BenchmarkError",
    "first_line",
    "quote",
    "shorten",
    "QUOTE_LIMIT",
]


class RecalibError(Exception):
    """Base class of every error raised on purpose by recalib."""

    exit_code = 1


class ConfigError(RecalibError, ValueError):
    """A block, model or command was configured with invalid options."""

    exit_code = 2


class UnknownNameError(ConfigError):
    """A registry lookup used a name that is not registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind, self.name, self.known = kind, name, known
        super().__init__(f"unknown {kind} {name!r}; choose one of: {', '.join(known)}")


class OutputError(ConfigError):
    """An output path may not or cannot be written: it exists (and ``--force`` was not given), it is
    one of the command's own inputs, its folder is missing or read-only, or another run holds it.

    One rule for every command and writer: a refused output is a usage error (exit 2), raised
    before any work where it can be known then.
    """


class ShapeError(RecalibError, ValueError):
    """A tensor reached a block or model with a shape (or dtype) it was not built for."""

    exit_code = 2


class DataError(ConfigError):
    """A labelled data file is unreadable, or does not fit the model it is to verify."""


class CheckpointError(RecalibError):
    """A checkpoint file is missing, corrupt, or describes another model."""

    exit_code = 2


class ExportError(RecalibError):
    """An ONNX export could not be produced as requested."""

    exit_code = 5


class VerificationError(RecalibError):
    """An exported or folded model disagrees with PyTorch beyond tolerance."""

    exit_code = 4


class BackendUnavailable(RecalibError):
    """A runtime backend (onnxruntime provider, TensorRT, a GPU) is not installed or present."""

    exit_code = 3

    def __init__(self, backend: str, reason: str, hint: str) -> None:
        self.backend, self.reason, self.hint = backend, reason, hint
        super().__init__(f"backend {backend!r} is unavailable: {reason}. To enable it: {hint}")


class BenchmarkError(RecalibError):
    """A benchmark could not be measured as requested."""

    exit_code = 6


QUOTE_LIMIT = 80  # characters of a user's value an error message repeats
_LINE_LIMIT = 240  # characters of another library's message quoted in ours


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out: a user's text in a message."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text) - limit} more characters)"


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """``repr(value)``, shortened (:func:`shorten`): a user's value in a message."""
    return shorten(repr(value), limit)


def first_line(exc: BaseException) -> str:
    """The first line of another library's error message (its class name if it has none), at most
    ``_LINE_LIMIT`` characters, to quote in ours (torch's C++ errors carry a backtrace after it)."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= _LINE_LIMIT else f"{line[:_LINE_LIMIT]}…"
