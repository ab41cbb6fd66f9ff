"""Whether an option's value fits its constructor's type annotation, and how to say what fits.

Options arrive from specs (``resnet50:stride_in_1x1=false``), checkpoints (JSON) and Python
calls. A constructor that received the string ``"false"`` for a ``bool`` would build the
wrong model silently (a non-empty string is true), and a ``float`` or a string for an ``int``
fails deep inside torch; so every option is checked against the annotation of the parameter
it goes to before anything is built. ``bool`` is not an ``int`` here, an ``int`` is a
``float``, and a list is a tuple (JSON has no tuples). Annotations this module does not know
are left to the constructor.
"""
from __future__ import annotations

import collections.abc
import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, Literal, Union

__all__ = ["hints", "fits", "describe"]

_SCALARS: dict[Any, tuple[Callable[[Any], bool], str]] = {
    bool: (lambda v: isinstance(v, bool), "true or false"),
    int: (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    float: (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"),
    str: (lambda v: isinstance(v, str), "a string"),
    type(None): (lambda v: v is None, "none"),
}
_SEQUENCES = (tuple, list, collections.abc.Sequence)


@functools.lru_cache(maxsize=None)
def hints(builder: Callable[..., Any]) -> dict[str, Any]:
    """Parameter name → annotation of ``builder`` (a class: its ``__init__``); empty if unresolvable."""
    target = builder.__init__ if inspect.isclass(builder) else builder
    try:
        return typing.get_type_hints(target)
    except (NameError, TypeError):
        return {}


def _items_fit(value: Any, args: tuple[Any, ...]) -> bool:
    if len(args) == 2 and args[1] is Ellipsis or len(args) == 1:
        return all(fits(item, args[0]) for item in value)
    return len(value) == len(args) and all(fits(item, arg) for item, arg in zip(value, args))


def fits(value: Any, hint: Any) -> bool:
    """Whether ``value`` is acceptable for a parameter annotated ``hint``."""
    if hint in _SCALARS:
        return _SCALARS[hint][0](value)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return any(fits(value, arg) for arg in args)
    if origin is Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if origin in _SEQUENCES:
        return isinstance(value, (tuple, list)) and (not args or _items_fit(value, args))
    if origin in (frozenset, set):
        return isinstance(value, (frozenset, set)) and all(fits(item, args[0]) for item in value)
    if origin is None and isinstance(hint, type) and hint is not typing.Any:
        return isinstance(value, hint)
    return True


def describe(hint: Any) -> str:
    """``hint`` in words: ``int | None`` → ``an integer or none``."""
    if hint in _SCALARS:
        return _SCALARS[hint][1]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " or ".join(describe(arg) for arg in args)
    if origin is Literal:
        return "one of " + ", ".join(repr(arg) for arg in args)
    if origin in _SEQUENCES:
        if len(args) == 1 or len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {describe(args[0]).removeprefix('an ').removeprefix('a ')}s, e.g. (1,2)"
        return f"a tuple of {len(args)} ({', '.join(describe(arg) for arg in args)})"
    if origin in (frozenset, set) and args:
        return f"a set of {describe(args[0]).removeprefix('an ').removeprefix('a ')}s, e.g. {{1,2}}"
    return getattr(hint, "__name__", str(hint))
