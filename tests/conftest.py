"""Shared test configuration: deterministic seeds and few threads (CI has 2 cores)."""
from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import torch

if TYPE_CHECKING:
    from recalib.profiling.claims.measure import Measurer

# Two xdist workers share the 2 cores (pyproject's addopts): one thread each; alone, two threads.
torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)


@pytest.fixture(scope="session", autouse=True)
def _own_report_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tests' report folders are sealed with a key of their own (:mod:`recalib.infra.seal`), not the user's."""
    previous = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if previous is None:
        del os.environ["XDG_STATE_HOME"]
    else:
        os.environ["XDG_STATE_HOME"] = previous


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def paper_measurer() -> Measurer:
    """One measurer for every test that builds the papers' networks: each is built once a session."""
    from recalib.profiling.claims.measure import Measurer
    return Measurer()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test on the paper measurer runs in one xdist worker (``--dist loadgroup``), which builds each network once."""
    for item in items:
        if "paper_measurer" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("paper-measurer"))
