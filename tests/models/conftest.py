"""Model tests share built models: big backbones are built once per session and only read."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from torch import nn

from recalib import create_model

_CACHE: dict[tuple[Any, ...], nn.Module] = {}


@pytest.fixture(scope="session")
def built() -> Callable[..., nn.Module]:
    """``built(arch, block=None, **options)``: a shared, cached model (tests must not modify it)."""

    def get(arch: str, block: str | None = None, **options: Any) -> nn.Module:
        key = (arch, block, tuple(sorted(options.items())))
        if key not in _CACHE:
            _CACHE[key] = create_model(arch, block=block, **options)
        return _CACHE[key]

    return get
