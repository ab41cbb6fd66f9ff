"""Honest cost accounting for recalibration blocks: parameters, FLOPs, and the papers' claims.

* :mod:`recalib.profiling.counting.handles`: fvcore op handles for every op the library emits (nothing skipped).
* :mod:`recalib.profiling.counting.conventions`: named counting conventions, build readings and paper presets.
* :mod:`recalib.profiling.counting.counts`: one trace per model, counts by module and category.
* :mod:`recalib.profiling.counting.crosscheck`: the multiply-add core against ``torch.utils.flop_counter``.
* :mod:`recalib.profiling.counting.breakdown`: the recalibration share of a model, block by block.
* :mod:`recalib.profiling.counting.model_profile`: one model under every convention (``recalib profile``).
* :mod:`recalib.profiling.claims.papers` / :mod:`recalib.profiling.claims.audit`: the papers' figures and their verdicts.
* :mod:`recalib.profiling.report.writer`: report folders made of sections (Markdown, JSON, CSV).

The main entry points are re-exported lazily (importing this package does not import torch).
"""
from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "count_module": "recalib.profiling.counting.counts",
    "crosscheck": "recalib.profiling.counting.crosscheck",
    "breakdown": "recalib.profiling.counting.breakdown",
    "profile_model": "recalib.profiling.counting.model_profile",
    "audit_claims": "recalib.profiling.claims.audit",
    "load_papers": "recalib.profiling.claims.papers",
    "write_report": "recalib.profiling.report.writer",
    "CONVENTIONS": "recalib.profiling.counting.conventions",
    "PRESETS": "recalib.profiling.counting.conventions",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'recalib.profiling' has no attribute {name!r}")
