"""The whole package type-checks: a wrong argument or a misspelt attribute fails CI, not a user."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_packages_type_check_with_mypy() -> None:
    pytest.importorskip("mypy", reason="mypy comes with the [dev] extra of the README's install command")
    result = subprocess.run([sys.executable, "-m", "mypy", "recalib", "export", "deploy", "profiling",
                             "benchmarks", "examples"],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
