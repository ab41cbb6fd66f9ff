"""Build the compared models of a latency audit: a backbone plain and with each block.

Blocks are named as on the command line, ``NAME[:KEY=VALUE...]`` (e.g. ``ge-theta-minus:extent=8``),
and that string is the candidate's label in reports. The plain backbone is labelled ``none``.
"""
from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from deploy.bench import Candidate
from recalib.errors import ConfigError

__all__ = ["BASELINE", "parse_value", "parse_options", "parse_block", "model_candidates"]

BASELINE = "none"


def parse_value(text: str) -> Any:
    """``8`` → 8, ``True`` → True, ``(1, 2)`` → (1, 2); anything else stays a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_options(items: Sequence[str], where: str) -> dict[str, Any]:
    """``["extent=8", "mode=sum"]`` → ``{"extent": 8, "mode": "sum"}``."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where}: expected KEY=VALUE, got {item!r}")
        options[key.strip()] = parse_value(value.strip())
    return options


def parse_block(spec: str) -> tuple[str, dict[str, Any]]:
    """``"ge-theta-minus:extent=8"`` → ``("ge-theta-minus", {"extent": 8})``."""
    name, *items = spec.split(":")
    if not name.strip():
        raise ConfigError(f"block spec {spec!r} has no block name; write NAME[:KEY=VALUE...]")
    return name.strip(), parse_options(items, f"block {spec!r}")


def model_candidates(arch: str, blocks: Sequence[str], input_size: tuple[int, int] | None = None,
                     model_options: Mapping[str, Any] | None = None) -> list[Candidate]:
    """The plain ``arch`` (label ``none``) then ``arch`` with each block spec, in eval mode.

    ``input_size`` (H, W) defaults to the architecture's nominal size; blocks that need the
    feature-map size are built for it.
    """
    from recalib.models import create_model, model_spec

    size = tuple(input_size) if input_size is not None else tuple(model_spec(arch).input_size)
    options = {**dict(model_options or {}), "input_size": size}
    candidates = [Candidate(BASELINE, create_model(arch, **options).eval())]
    for spec in blocks:
        if spec == BASELINE:
            continue
        name, block_options = parse_block(spec)
        candidates.append(Candidate(spec, create_model(arch, block=name, **options, **block_options).eval()))
    return candidates
