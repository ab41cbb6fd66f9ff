"""The release of recalib, in a module of its own: checkpoints record it, and importing it runs
nothing else (``recalib/__init__.py`` re-exports the whole API lazily, so a module that took
the version from there would import the package that lazily imports it)."""
from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
