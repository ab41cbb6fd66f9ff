"""Literals as specifications and flags write them: real values, and commas that stay inside brackets."""
from __future__ import annotations

import re

import pytest

from recalib.errors import ConfigError
from recalib.literals import parse_value, split_top_level


@pytest.mark.parametrize("text, value", [
    ("true", True), ("FALSE", False), ("None", None), ("null", None), ("8", 8), ("-2", -2), ("0.5", 0.5),
    ("1e-3", 1e-3), ("(1,2,4)", (1, 2, 4)), ("[1, 2]", (1, 2)), ("()", ()), ("(true, (2,3))", (True, (2, 3))),
    ('"a,b"', "a,b"), ("sigmoid", "sigmoid"), ("1e+3", 1000.0), ("0x10", 16),
])
def test_values_are_literals_not_strings(text: str, value: object) -> None:
    assert parse_value(text) == value and type(parse_value(text)) is type(value)


def test_commas_inside_brackets_and_quotes_stay_together() -> None:
    assert split_top_level("se, ms-sar:scales=(1,2,4),x='a,b'") == ["se", "ms-sar:scales=(1,2,4)", "x='a,b'"]


@pytest.mark.parametrize("text, message", [("a,(1,2", "unclosed bracket"), ("a,1,2)", "unbalanced ')'"),
                                           ("a,'b", "unclosed quote")])
def test_unpaired_brackets_and_quotes_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        split_top_level(text)


def test_an_empty_value_is_refused_with_the_form_to_write() -> None:
    with pytest.raises(ConfigError, match="empty value; write KEY=VALUE"):
        parse_value("  ")
