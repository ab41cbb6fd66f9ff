"""Fixtures of the export tests."""
from __future__ import annotations

import pytest

from export_helpers import Host, randomize


@pytest.fixture
def host():
    """Factory: a randomized eval-mode host model around a registered block."""
    return lambda block, **kw: randomize(Host(block, **kw))
