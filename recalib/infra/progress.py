"""Progress bars for long work (training epochs, audit phases): on a terminal only, and off when asked.

A tqdm bar redraws itself with carriage returns: in a log file or a pipe it leaves a line of
debris per update, so a bar is drawn only when its stream (standard error) is a terminal
(tqdm's ``disable=None``), and never when the user turned progress off (``--no-progress``).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(iterable: Iterable[Any] | None = None, *, show: bool, **options: Any) -> Any:
    """A tqdm bar over ``iterable`` (or one advanced by ``update``), drawn when ``show`` and its stream is
    a terminal; ``options`` are tqdm's (``desc``, ``total``, ``unit``, ``file``)."""
    from tqdm import tqdm  # imported when work starts: ``recalib --help`` stays light

    return tqdm(iterable, disable=None if show else True, **options)
