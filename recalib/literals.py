"""Literal values as a model specification or a flag writes them: ``true``, ``8``, ``(1,2)``, ``"a,b"``.

Values are literals: ``true``/``false``/``none`` in any case, integers, floats, tuples in
``(…)`` or ``[…]`` (their commas stay together, elements parsed the same way), quoted strings
(``"a,b"``); anything else is a bare string. :func:`split_top_level` splits at commas (or
another separator) outside brackets and quotes, so lists of specifications and of options
keep their tuples whole.

This module depends on :mod:`recalib.errors` alone: the specification parser, the registries'
error hints and the command line's argument types all read literals, and none of them may
drag the others (or torch) in.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from recalib.errors import ConfigError, quote

__all__ = ["scan", "split_top_level", "parse_value", "MAX_DEPTH"]

MAX_DEPTH = 32  # brackets within brackets: far beyond any option, far below Python's recursion limit

_WORDS = {"true": True, "false": False, "none": None, "null": None}
_OPEN, _CLOSE, _QUOTES = "([{", ")]}", "'\""


def scan(text: str) -> Iterator[tuple[int, str, bool]]:
    """``(index, char, at_top_level)`` for each character, tracking brackets and quotes."""
    depth, open_quote = 0, ""
    for index, char in enumerate(text):
        top = depth == 0 and not open_quote
        if open_quote:
            open_quote = "" if char == open_quote else open_quote
        elif char in _QUOTES:
            open_quote = char
        elif char in _OPEN:
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError(f"{quote(text)}: brackets nested more than {MAX_DEPTH} deep; no option takes that")
        elif char in _CLOSE:
            depth -= 1
            if depth < 0:
                raise ConfigError(f"{quote(text)}: unbalanced {char!r}; brackets must pair up")
        yield index, char, top
    if depth or open_quote:
        raise ConfigError(f"{quote(text)}: unclosed {'quote' if open_quote else 'bracket'}")


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split ``text`` at ``separator`` outside brackets and quotes; parts are stripped."""
    parts, start = [], 0
    for index, char, top in scan(text):
        if top and char == separator:
            parts.append(text[start:index].strip())
            start = index + 1
    return [*parts, text[start:].strip()]


def parse_value(text: str) -> Any:
    """A literal: bool, None, int, float, a tuple in brackets, a quoted or bare string."""
    text = text.strip()
    if not text:
        raise ConfigError("an option or a list item has an empty value; write KEY=VALUE, lists as (1,2)")
    if text.lower() in _WORDS:
        return _WORDS[text.lower()]
    if text[0] in _OPEN and text[-1] == _CLOSE[_OPEN.index(text[0])]:
        items = split_top_level(text[1:-1]) if text[1:-1].strip() else []
        if len(items) > 1 and not items[-1]:
            items.pop()  # a trailing comma, as in (3,)
        return tuple(parse_value(item) for item in items)
    if text[0] in _QUOTES and text[-1] == text[0] and len(text) > 1:
        return text[1:-1]
    try:
        number = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text
    return number if isinstance(number, (int, float)) and not isinstance(number, bool) else text
