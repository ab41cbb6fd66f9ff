"""Argument types shared by the subcommands (argparse only: these modules load before torch)."""
from __future__ import annotations

import argparse

__all__ = ["comma_names", "comma_ints", "add_input_size"]


def comma_names(text: str) -> list[str]:
    """Comma-separated names; commas inside brackets belong to a value (``scales=(1,2,4)``)."""
    names, depth, current = [], 0, ""
    for char in text:
        depth += (char in "([{") - (char in ")]}")
        if char == "," and depth == 0:
            names.append(current.strip())
            current = ""
        else:
            current += char
    names = [n for n in (*names, current.strip()) if n]
    if not names:
        raise argparse.ArgumentTypeError("give at least one name")
    return names


def comma_ints(text: str) -> list[int]:
    try:
        return [int(t) for t in comma_names(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def add_input_size(parser: argparse.ArgumentParser) -> None:
    """The ``--input-size H W`` option (default None: the architecture's nominal size)."""
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help="input height and width (default: the architecture's nominal size)")
