"""The import graph of the installed namespace (DESIGN.md): no import circles, layers depend only
leftward (core → export → deploy → profiling → command line), nothing is imported for its side
effects, and the light entry points (``import recalib``, ``recalib --help``) load no torch."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from import_graph_testing import ImportGraph, scan, unused_module_imports


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return scan()


def test_no_module_imports_itself_back_through_others(graph: ImportGraph) -> None:
    assert graph.cycles() == [], graph.summary()


def test_every_import_goes_to_its_own_layer_or_a_lower_one(graph: ImportGraph) -> None:
    assert graph.upward() == [], graph.summary()


def test_no_module_is_imported_for_its_side_effects() -> None:
    assert unused_module_imports() == []


def test_the_literal_parser_depends_on_the_errors_alone(graph: ImportGraph) -> None:
    assert graph.edges["recalib.literals"] == {"recalib.errors"}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def test_the_scan_sees_imports_in_functions_relative_imports_and_lazy_tables(tmp_path: Path) -> None:
    root = _write(tmp_path, {
        "recalib/__init__.py": "import importlib\n_LAZY = {'thing': 'recalib.b'}\n"
                               "def __getattr__(name):\n    return importlib.import_module(_LAZY[name])\n",
        "recalib/a.py": "def late():\n    from recalib.b import value\n    return value\n",
        "recalib/b.py": "from . import a\nvalue = a\n",
        "recalib/c.py": "import recalib.a\nimport recalib.b  # registers something\n"
                        "from recalib.export import x\nrecalib.a.late()\n",
        "export/__init__.py": "", "export/x.py": "", "deploy/__init__.py": "", "profiling/__init__.py": "",
    })
    graph = scan(root)
    assert graph.edges["recalib"] == {"recalib.b"} and graph.edges["recalib.c"] >= {"recalib.a", "recalib.export.x"}
    assert graph.cycles() == [["recalib.a", "recalib.b"]]
    assert graph.upward() == [("recalib.c", "recalib.export.x")]
    assert unused_module_imports(root) == ["recalib.c:2 imports recalib.b and never uses it"]


def _imported_torch(*args: str) -> list[str]:
    """The torch modules a fresh interpreter imports running ``python -X importtime ARGS``."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    names = [line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    return [name for name in names if name == "torch" or name.startswith("torch.")]


def test_importing_recalib_loads_no_torch() -> None:
    assert _imported_torch("-c", "import recalib") == []


def test_recalib_help_loads_no_torch() -> None:
    assert _imported_torch("-m", "recalib.cli.main", "--help") == []


@pytest.mark.parametrize("module", ["recalib.record", "recalib.checkpoint", *(
    pytest.param(m, marks=pytest.mark.slow) for m in ("recalib.registry", "recalib.spec", "recalib.paper_configs",
                                                      "recalib.models.catalog", "recalib.models.resnet",
                                                      "recalib.blocks.se"))])
def test_a_module_of_the_former_circle_imports_first_in_a_fresh_interpreter(module: str) -> None:
    """A package's ``__init__`` runs before its modules, an order the graph does not show: each of
    these, imported before anything else, must not meet a half-initialised module."""
    result = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
