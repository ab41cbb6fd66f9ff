"""The import graph of the installed ``recalib`` namespace, read from the source (nothing is imported).

Every import counts, at any nesting level: those inside functions (where a cycle hides, since
Python resolves them late), those under ``TYPE_CHECKING``, and the lazy ones: a module that
calls ``importlib.import_module`` imports every module its string constants name (its lazy
table, ``"recalib.models"`` or ``"recalib.deploy.backends.ort:OrtRunner"``). An edge goes to the
most specific module an import names (``from recalib.models import create_model`` is an edge to
``recalib.models``).
"""
from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from layout_testing import MAPPED, ROOT

#: Layers, lowest first: a module may import its own layer or a lower one.
LAYERS = ("core", "recalib.export", "recalib.deploy", "recalib.profiling", "recalib.cli")


def package_roots(root: Path = ROOT) -> dict[str, Path]:
    """Dotted package name → the folder it installs from (pyproject's ``package-dir``)."""
    return {"recalib": root / "recalib", **{f"recalib.{name}": root / name for name in MAPPED}}


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the namespace by its installed dotted name."""
    found: dict[str, Path] = {}
    for package, folder in package_roots(root).items():
        for path in folder.rglob("*.py"):
            parts = path.relative_to(folder).with_suffix("").parts
            name = ".".join((package, *parts[:-1], *([] if parts[-1] == "__init__" else [parts[-1]])))
            found[name] = path
    return found


def layer(module: str) -> int:
    """The index in :data:`LAYERS` of ``module``'s layer."""
    for index in range(len(LAYERS) - 1, 0, -1):
        if module == LAYERS[index] or module.startswith(LAYERS[index] + "."):
            return index
    return 0


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The module a (possibly relative) ``from … import`` reads from."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")[: None if is_package else -1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def _imported_names(node: ast.AST, module: str, is_package: bool, known: Mapping[str, Path]) -> list[str]:
    """The dotted names an import statement names: ``from a import b`` names ``a.b`` where that is a
    module (``from recalib.export import optimize``), else ``a``."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = _absolute(node, module, is_package)
        return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    return []


def _lazy_names(tree: ast.Module) -> list[str]:
    """Modules named as strings to ``importlib.import_module``: a literal argument, or the values of a
    lazy table (a module-level dict of strings, ``_LAZY = {"create_model": "recalib.models", ...}``)."""
    calls = [node.args[0] for node in ast.walk(tree) if isinstance(node, ast.Call) and node.args
             and isinstance(node.func, ast.Attribute) and node.func.attr == "import_module"]
    if not calls:
        return []
    tables = [node.value for node in tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Dict)]
    strings = [*calls, *(value for table in tables for value in table.values)]
    return [node.value for node in strings if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def imports_of(module: str, path: Path, known: Mapping[str, Path]) -> set[str]:
    """The namespace modules ``module`` (the file ``path``) imports, at any nesting level."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    named = [name for node in ast.walk(tree) for name in _imported_names(node, module, is_package, known)]
    targets = {_most_specific(name, known) for name in [*named, *_lazy_names(tree)]}
    return {target for target in targets if target is not None and target != module}


def _most_specific(name: str, known: Mapping[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


@dataclass(frozen=True)
class ImportGraph:
    """Module → the namespace modules it imports."""

    edges: Mapping[str, frozenset[str]]

    @property
    def edge_count(self) -> int:
        return sum(len(targets) for targets in self.edges.values())

    def cycles(self) -> list[list[str]]:
        """The strongly connected components of more than one module, each sorted (Tarjan's algorithm)."""
        return sorted(sorted(c) for c in _components(self.edges) if len(c) > 1)

    def upward(self) -> list[tuple[str, str]]:
        """``(importer, imported)`` where the imported module sits in a higher layer."""
        return sorted((a, b) for a, targets in self.edges.items() for b in targets if layer(b) > layer(a))

    def summary(self) -> str:
        cycles, upward = self.cycles(), self.upward()
        lines = [f"modules {len(self.edges)}, edges {self.edge_count}, cycles {len(cycles)}, "
                 f"upward edges {len(upward)}"]
        lines += [f"  cycle of {len(c)}: {', '.join(c)}" for c in cycles]
        lines += [f"  upward: {a} -> {b}" for a, b in upward]
        return "\n".join(lines)


def _components(edges: Mapping[str, frozenset[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = stack[stack.index(node):]
            del stack[stack.index(node):]
            found.append(component)

    for node in edges:
        if node not in index:
            visit(node)
    return found


def _dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for an attribute chain on a name, else None."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def unused_module_imports(root: Path = ROOT) -> list[str]:
    """``import x.y`` statements of namespace modules that the importer never uses as ``x.y…``: imports
    kept for what importing does (registering, say), not for what the module holds."""
    files = module_files(root)
    found = []
    for module, path in files.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used = {name for node in ast.walk(tree) if isinstance(node, (ast.Name, ast.Attribute))
                for name in [_dotted(node)] if name}
        for node in ast.walk(tree):
            for alias in node.names if isinstance(node, ast.Import) else []:
                bound = alias.asname or alias.name
                if alias.name in files and bound not in used:
                    found.append(f"{module}:{node.lineno} imports {alias.name} and never uses it")
    return found


def scan(root: Path = ROOT) -> ImportGraph:
    """The import graph of the namespace as it installs from ``root``."""
    files = module_files(root)
    return ImportGraph({module: frozenset(imports_of(module, path, files)) for module, path in files.items()})


if __name__ == "__main__":
    import sys

    print(scan(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT).summary())
