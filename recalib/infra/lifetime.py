"""How a recalib process ends: a termination signal unwinds it, and a worker dies with its parent.

Python's default reaction to SIGTERM (what ``timeout``, ``kill`` and CI cancellation send) is
to die on the spot: no ``finally`` runs, so temporary folders, staged files and worker
processes would be left behind. Within :func:`exit_on_signals`, SIGTERM and SIGHUP raise a
:class:`Terminated` exception instead (SIGINT already raises ``KeyboardInterrupt``), so every
context manager on the way out cleans up; further SIGTERMs are ignored while it does, so the
cleanup itself is not cut short (SIGKILL still ends the process at once).

A worker process calls :func:`die_with_parent`: on Linux the kernel sends it SIGTERM when its
parent dies (``PR_SET_PDEATHSIG``), and everywhere a watchdog thread notices that the parent
is gone (the worker was re-parented) and does the same; so a parent killed with SIGKILL does
not leave its worker running under PID 1.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Terminated", "exit_on_signals", "die_with_parent", "WATCH_SECONDS", "GRACE_SECONDS"]

WATCH_SECONDS = 1.0  # how often the watchdog looks for the parent
GRACE_SECONDS = 20.0  # how long a terminated worker may clean up before it is ended for good
_PR_SET_PDEATHSIG = 1


class Terminated(BaseException):
    """The process received a termination signal; ``exit_code`` is ``128 + signal``, the shell's convention.

    A ``BaseException``, like ``KeyboardInterrupt``: ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum: int) -> None:
        self.signum, self.exit_code = signum, 128 + signum
        super().__init__(f"terminated by {signal.Signals(signum).name}")


def _raise_terminated(signum: int, frame: object) -> None:
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)  # let the cleanup finish
    raise Terminated(signum)


@contextmanager
def exit_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated`; the previous handlers return after.

    Signal handlers belong to the main thread: elsewhere (or nested) this changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = [name for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {name: signal.signal(getattr(signal, name), _raise_terminated) for name in names}
    try:
        yield
    finally:
        for name, handler in previous.items():
            signal.signal(getattr(signal, name), handler)


def _set_parent_death_signal() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # the watchdog below still covers it


def _watch(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_SECONDS)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_SECONDS)  # the main thread may be inside a long native call
    os._exit(128 + int(signal.SIGTERM))


def die_with_parent(parent_pid: int) -> None:
    """End this process (by SIGTERM, so it cleans up) when process ``parent_pid`` is gone.

    Call it first thing in a worker, after :func:`exit_on_signals`. If the parent died before
    this was called, the worker ends now.
    """
    _set_parent_death_signal()
    if os.getppid() != parent_pid:
        raise Terminated(int(signal.SIGTERM))
    threading.Thread(target=_watch, args=(parent_pid,), name="recalib-parent-watchdog", daemon=True).start()
