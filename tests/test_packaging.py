"""What the distribution installs: the ``recalib`` namespace alone, with every package folder in it."""
from __future__ import annotations

import tomllib
from pathlib import Path

from layout_testing import MAPPED, ROOT


def _setuptools() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _package_folders(package_dir: dict[str, str]) -> dict[str, Path]:
    """Every folder with an ``__init__.py`` under each mapped root, by the dotted name it installs as."""
    found: dict[str, Path] = {}
    for name, folder in package_dir.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.setdefault(".".join((name, *parts)), init.parent)
    return found


def test_the_distribution_names_every_package_folder_and_nothing_outside_recalib() -> None:
    config = _setuptools()
    assert config["package-dir"] == {"recalib": "recalib", **{f"recalib.{m}": m for m in MAPPED}}
    assert all(p == "recalib" or p.startswith("recalib.") for p in config["packages"])
    assert sorted(config["packages"]) == sorted(_package_folders(config["package-dir"]))


def test_the_repository_folders_import_under_the_recalib_namespace() -> None:
    import recalib.deploy
    import recalib.export
    import recalib.profiling

    for module, folder in ((recalib.export, "export"), (recalib.deploy, "deploy"), (recalib.profiling, "profiling")):
        assert Path(str(module.__file__)).resolve() == ROOT / folder / "__init__.py"
