"""One run of each claims audit per test session, on the session's measurer (each network built once).

Every test on the measurer runs in one xdist worker (``tests/conftest.py``), so each network is built once.
"""
from __future__ import annotations

import pytest

from recalib.profiling.claims.audit import ClaimsAudit, audit_claims
from recalib.profiling.claims.measure import Measurer


@pytest.fixture(scope="session")
def quick_audit(paper_measurer: Measurer) -> ClaimsAudit:
    """The quick subset of every paper (small CIFAR nets, plain ResNet-50), parameters and FLOPs: every verdict occurs."""
    return audit_claims(quick=True, measurer=paper_measurer)


@pytest.fixture(scope="session")
def params_audit(paper_measurer: Measurer) -> ClaimsAudit:
    """Every parameter figure of every paper (counted on the meta device)."""
    return audit_claims(metrics=("params",), measurer=paper_measurer)
