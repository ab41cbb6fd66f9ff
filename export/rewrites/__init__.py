"""Exact inference rewrites applied by :func:`recalib.export.optimize.optimize_model` (see there)."""
from __future__ import annotations

from recalib.errors import ConfigError

__all__ = ["TARGETS", "DEFAULT_TARGET", "check_form", "check_target"]

TARGETS = ("onnxruntime", "openvino")
"""The runtimes an inference form can be shaped for (``recalib.export.optimize`` explains the choice)."""
DEFAULT_TARGET = "onnxruntime"


def check_target(optimize: bool | str) -> str | None:
    """The runtime an export is optimised for: None for ``False``, :data:`DEFAULT_TARGET` for ``True``."""
    if optimize is True:
        return DEFAULT_TARGET
    if optimize is False:
        return None
    if optimize not in TARGETS:
        raise ConfigError(f"optimize={optimize!r} names no export target; choose True, False or one of "
                          f"{', '.join(TARGETS)}")
    return str(optimize)


def check_form(target: str, form: str) -> str:
    """``target`` if ``form`` (a rewrite's class name) has a shape for it, else a :class:`ConfigError`."""
    if target not in TARGETS:
        raise ConfigError(f"{form} has forms for {', '.join(TARGETS)}, not {target!r}")
    return target
