"""The whole package type-checks: a wrong argument or a misspelt attribute fails CI, not a user."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from layout_testing import ROOT, installed_layout


def _mypy(cwd: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
                           "--cache-dir", str(ROOT / ".mypy_cache"), *targets], cwd=cwd, capture_output=True, text=True)


def test_packages_type_check_with_mypy() -> None:
    pytest.importorskip("mypy", reason="mypy comes with the [dev] extra of the README's install command")
    result = _mypy(installed_layout(ROOT / ".mypy_cache" / "installed-layout"), "-p", "recalib")
    assert result.returncode == 0, result.stdout + result.stderr


def test_benchmarks_and_examples_type_check_with_mypy() -> None:
    pytest.importorskip("mypy", reason="mypy comes with the [dev] extra of the README's install command")
    tree = installed_layout(ROOT / ".mypy_cache" / "installed-layout")
    result = _mypy(tree, *(str(ROOT / folder) for folder in ("benchmarks", "examples")))
    assert result.returncode == 0, result.stdout + result.stderr
