"""Honest cost accounting for recalibration blocks: parameters, FLOPs, and the papers' claims.

* :mod:`profiling.handles`: fvcore op handles for every op the library emits (nothing skipped).
* :mod:`profiling.conventions`: named counting conventions, build readings and paper presets.
* :mod:`profiling.counting`: one trace per model, counts by module and category.
* :mod:`profiling.crosscheck`: the multiply-add core against ``torch.utils.flop_counter``.
* :mod:`profiling.breakdown`: the recalibration share of a model, block by block.
* :mod:`profiling.model_profile`: one model under every convention (``recalib profile``).
* :mod:`profiling.claims` / :mod:`profiling.claims_audit`: the papers' figures and their verdicts.
* :mod:`profiling.report`: report folders made of sections (Markdown, JSON, CSV).

The main entry points are re-exported lazily (importing this package does not import torch).
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "count_module": "profiling.counting",
    "crosscheck": "profiling.crosscheck",
    "breakdown": "profiling.breakdown",
    "profile_model": "profiling.model_profile",
    "audit_claims": "profiling.claims_audit",
    "load_papers": "profiling.claims",
    "write_report": "profiling.report",
    "CONVENTIONS": "profiling.conventions",
    "PRESETS": "profiling.conventions",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'profiling' has no attribute {name!r}")
