"""The examples are scripts, not a package: their folder goes on the import path of these tests
(the backbones are compared with the look-alikes in ``examples/foreign_models.py``)."""
from __future__ import annotations

import sys
from pathlib import Path

EXAMPLES = str(Path(__file__).resolve().parents[2] / "examples")
if EXAMPLES not in sys.path:
    sys.path.insert(0, EXAMPLES)
