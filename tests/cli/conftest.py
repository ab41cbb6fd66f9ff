"""Fixtures of the command-line tests: small exported models, shared per session."""
from __future__ import annotations

from pathlib import Path

import pytest

from cli_testing import SMALL
from recalib.cli.main import main


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``recalib export`` of the small CIFAR ResNet plain and with SE: ``{"base": …, "se": …}``."""
    folder = tmp_path_factory.mktemp("exported")
    paths = {"base": folder / "base.onnx", "se": folder / "se.onnx"}
    assert main(["export", SMALL, "-o", str(paths["base"])]) == 0
    assert main(["export", f"{SMALL}+se", "-o", str(paths["se"])]) == 0
    return paths
