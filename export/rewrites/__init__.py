"""Exact inference rewrites applied by :func:`export.optimize.optimize_model` (see there)."""
from __future__ import annotations

from recalib.errors import ConfigError

__all__ = ["TARGETS", "check_form"]

TARGETS = ("onnxruntime", "openvino")
"""The runtimes an inference form can be shaped for (``export.optimize`` explains the choice)."""


def check_form(target: str, form: str) -> str:
    """``target`` if ``form`` (a rewrite's class name) has a shape for it, else a :class:`ConfigError`."""
    if target not in TARGETS:
        raise ConfigError(f"{form} has forms for {', '.join(TARGETS)}, not {target!r}")
    return target
