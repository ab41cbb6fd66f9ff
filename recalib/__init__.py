"""recalib: CNN recalibration blocks from paper to production.

The public API is loaded lazily so that ``recalib --help`` does not import torch.
"""
from __future__ import annotations

import importlib
from typing import Any

from recalib.version import __version__

_LAZY = {
    "create_block": "recalib.blocks",
    "list_blocks": "recalib.blocks",
    "block_entry": "recalib.blocks",
    "create_model": "recalib.models",
    "list_models": "recalib.models",
    "arch_entry": "recalib.models",
    "get_paper_config": "recalib.paper_configs",
    "list_paper_configs": "recalib.paper_configs",
    "fold": "recalib.folding",
    "save_checkpoint": "recalib.checkpoint",
    "parse_spec": "recalib.spec",
    "load_checkpoint": "recalib.checkpoint",
    "errors": "recalib.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(_LAZY[name])
        return module if name == "errors" else getattr(module, name)
    raise AttributeError(f"module 'recalib' has no attribute {name!r}")
