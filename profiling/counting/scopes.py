"""Named parts of a model that counting conventions can weigh on their own.

Every counter of :mod:`recalib.profiling.counting.counts` holds, besides its plain categories (``conv``,
``weight`` …), *scoped* ones, ``"<scope>.<category>"``: the part of that module's counts that
lies inside a scope. The scopes are

* ``blocks``: the recalibration blocks, i.e. the outermost modules whose class lives in
  ``recalib.blocks`` (the only place blocks are defined);
* ``transitions``: DenseNet's transition layers (modules named ``trans1``, ``trans2`` …).

So a convention can count the blocks' element-wise products or leave the transitions out
(:mod:`recalib.profiling.counting.conventions`) without another trace.
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from torch import nn

__all__ = ["SCOPES", "recalibration_modules", "scoped", "add_scopes", "ancestors"]

_BLOCKS_PACKAGE = "recalib.blocks"
_TRANSITION = re.compile(r"(.*\.)?trans\d+")


def _is_block(module: nn.Module) -> bool:
    owner = type(module).__module__
    return owner == _BLOCKS_PACKAGE or owner.startswith(_BLOCKS_PACKAGE + ".")


def _outermost(model: nn.Module, is_member: Callable[[str, nn.Module], bool]) -> list[tuple[str, nn.Module]]:
    """The outermost modules of ``model`` for which ``is_member(name, module)``, in definition order."""
    found: list[tuple[str, nn.Module]] = []
    for name, module in model.named_modules():
        inside = any(prefix == "" or name.startswith(prefix + ".") for prefix, _ in found)
        if not inside and is_member(name, module):
            found.append((name, module))
    return found


def recalibration_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The outermost recalibration blocks of ``model``, in definition order."""
    return _outermost(model, lambda _, module: _is_block(module))


def _transitions(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return _outermost(model, lambda name, _: bool(_TRANSITION.fullmatch(name)))


#: Scope name → the function finding its outermost modules in a model.
SCOPES: dict[str, Callable[[nn.Module], list[tuple[str, nn.Module]]]] = {
    "blocks": recalibration_modules,
    "transitions": _transitions,
}


def ancestors(name: str) -> list[str]:
    """``"a.b.c"`` → ``["", "a", "a.b", "a.b.c"]``."""
    parts = name.split(".") if name else []
    return [".".join(parts[:k]) for k in range(len(parts) + 1)]


def scoped(counts: Counter, scope: str) -> Counter:
    """The plain categories of ``counts`` that lie inside ``scope`` (``"blocks.fc"`` → ``fc``)."""
    prefix = scope + "."
    return Counter({key[len(prefix):]: n for key, n in counts.items() if key.startswith(prefix)})


def add_scopes(model: nn.Module, table: dict[str, Counter]) -> None:
    """Add ``"<scope>.<category>"`` counts to every module's counter of ``table`` (in place).

    ``table`` maps module names (``""`` is the model) to their counts including their children.
    A module's scoped counts are those of the scope's roots it contains, or all of its own when
    it lies inside a root.
    """
    for scope, find in SCOPES.items():
        roots = {name for name, _ in find(model)}
        contained: dict[str, Counter] = {}
        for root in roots:
            own = {f"{scope}.{cat}": n for cat, n in table.get(root, Counter()).items() if "." not in cat}
            for ancestor in ancestors(root):
                contained.setdefault(ancestor, Counter()).update(own)
        for name, counter in table.items():
            if name in contained:
                counter.update(contained[name])
            elif any(a in roots for a in ancestors(name)[:-1]):
                counter.update({f"{scope}.{cat}": n for cat, n in list(counter.items()) if "." not in cat})
