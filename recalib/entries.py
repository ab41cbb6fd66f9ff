"""What the registries hold, and how an entry builds its module.

A backbone takes ``block="se"`` and stays ignorant of the family; the registry resolves the
name to its entry, :func:`build` merges the variant's fixed options, and rejects options the
constructor does not take (instead of silently ignoring them, or failing with a ``TypeError``
deep in a constructor).

Each family module declares its entries as a tuple ``ENTRIES`` (``recalib/blocks/<family>.py``:
:class:`BlockEntry`; ``recalib/models/<family>.py``: :class:`ArchEntry`), and the package that
owns each registry adds them in one place: :data:`recalib.blocks.BLOCKS`,
:data:`recalib.models.catalog.MODELS`. A user adds their own with :mod:`recalib.registry`.
Nothing is registered as a side effect of importing a module.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from torch import nn

from recalib.errors import ConfigError, UnknownNameError, quote
from recalib.literals import parse_value
from recalib.option_types import describe, fits, hints

__all__ = ["BlockEntry", "NativeBlock", "ArchEntry", "Registry", "build", "check_options", "check_keywords",
           "keyword_names", "keyword_defaults"]


@dataclass(frozen=True)
class BlockEntry:
    """How to build one named block variant.

    ``fixed`` are the options that define the variant (e.g. ``mode="param-free"`` for
    ``ge-theta-minus``); a caller may not override them. ``takes_identity`` marks blocks whose
    forward is ``(residual, identity)``; ``needs_feat_size`` marks blocks that must be told the
    feature-map size ``feat_size=(H, W)`` at construction. ``alternatives`` names the other
    settings the paper describes (``{"sliding-diamond": {"strategy": "sliding-diamond"}}``):
    ``recalib blocks`` lists them and the contract tests build, export and count each one.
    """

    name: str
    builder: Callable[..., nn.Module]
    paper: str
    params: str
    summary: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    takes_identity: bool = False
    needs_feat_size: bool = False
    alternatives: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = {label: MappingProxyType(dict(options)) for label, options in self.alternatives.items()}
        object.__setattr__(self, "fixed", MappingProxyType(dict(self.fixed)))
        object.__setattr__(self, "alternatives", MappingProxyType(frozen))


@dataclass(frozen=True)
class NativeBlock:
    """The recalibration block a published network is built with: registered block ``block`` with ``options``.

    ``ARCH`` builds the network with it; ``ARCH+none`` without any block; ``ARCH+BLOCK`` with
    ``BLOCK`` in its places. ``source`` says where the setting comes from.
    """

    block: str
    options: Mapping[str, Any]
    source: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))


@dataclass(frozen=True)
class ArchEntry:
    """How to build one named architecture (``input_size`` is its nominal (H, W)).

    ``dataset`` is what the papers train it on (``imagenet``, ``cifar``, ``mnist``): a paper's
    block setting for a family of backbones is often a setting per dataset
    (:mod:`recalib.models.block_defaults`). ``native`` is the block the published network has
    built in (EfficientNet's SE), built when no block is named; None for the papers' plain backbones.
    """

    name: str
    builder: Callable[..., nn.Module]
    paper: str
    summary: str
    input_size: tuple[int, int]
    dataset: str
    in_channels: int = 3
    fixed: Mapping[str, Any] = field(default_factory=dict)
    native: NativeBlock | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "fixed", MappingProxyType(dict(self.fixed)))

    def option_names(self) -> set[str]:
        """The options the backbone's builder takes (every other option of a model configures its block)."""
        return keyword_names(self.builder) or set()

    def option_defaults(self) -> dict[str, Any]:
        """The backbone's options that have a default, with that default."""
        return keyword_defaults(self.builder)


E = TypeVar("E", BlockEntry, ArchEntry)


class Registry(Generic[E]):
    """A mapping of stable names to entries, with helpful errors for unknown names."""

    def __init__(self, kind: str, entries: Iterable[E] = ()) -> None:
        self.kind = kind
        self._entries: dict[str, E] = {}
        for entry in entries:
            self.add(entry)

    def add(self, entry: E) -> E:
        if entry.name in self._entries:
            raise ConfigError(f"{self.kind} {entry.name!r} is registered twice")
        self._entries[entry.name] = entry
        return entry

    def get(self, name: str) -> E:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, sorted(self._entries)) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __iter__(self) -> Iterator[E]:
        return iter(self._entries[n] for n in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def build(entry: BlockEntry | ArchEntry, args: tuple[Any, ...], options: Mapping[str, Any]) -> nn.Module:
    """Call ``entry.builder(*args, **fixed, **options)`` after validating the option names."""
    check_options(entry, options)
    return entry.builder(*args, **entry.fixed, **options)


def check_options(entry: BlockEntry | ArchEntry, options: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for an option ``entry`` fixes, its constructor does not take, or
    whose value does not fit the constructor's annotation (:mod:`recalib.option_types`)."""
    check_keywords(entry.name, entry.builder, options, entry.fixed)


def check_keywords(name: str, builder: Callable[..., Any], options: Mapping[str, Any],
                   fixed: Mapping[str, Any] = MappingProxyType({})) -> None:
    """:func:`check_options` for any callable ``builder`` (named ``name`` in errors; a user's factory too),
    with ``fixed`` the options that may not be passed."""
    clash = sorted(set(options) & set(fixed))
    if clash:
        raise ConfigError(f"{name!r} fixes {', '.join(f'{k}={fixed[k]!r}' for k in clash)}; "
                          f"do not pass {', '.join(clash)} (pick another variant instead)")
    accepted = keyword_names(builder)
    if accepted is not None:
        unknown = sorted(set(options) - accepted)
        if unknown:
            valid = sorted(accepted - set(fixed))
            raise ConfigError(f"{name!r} does not take option(s) {', '.join(unknown)}; "
                              f"valid options: {', '.join(valid) or 'none'}")
    annotations = hints(builder)
    for key, value in options.items():
        hint = annotations.get(key)
        if hint is not None and not fits(value, hint):
            raise ConfigError(f"{name!r}: option {key} must be {describe(hint)}, got the "
                              f"{type(value).__name__} {quote(value)}{_unquote_hint(value, hint)}")


def _unquote_hint(value: Any, hint: Any) -> str:
    """A hint when a quoted literal (``'false'``, ``"8"``) would have fit unquoted."""
    literal = parse_value(value) if isinstance(value, str) and value.strip() else value
    return " (write it without quotes)" if literal is not value and fits(literal, hint) else ""


def keyword_defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """The keyword parameters of ``fn`` that have a default, with that default."""
    return {p.name: p.default for p in inspect.signature(fn).parameters.values()
            if p.default is not inspect.Parameter.empty and p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                                      inspect.Parameter.POSITIONAL_OR_KEYWORD)}


def keyword_names(fn: Callable[..., Any]) -> set[str] | None:
    """Names ``fn`` accepts as keywords, or None when it takes ``**kwargs``."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (inspect.Parameter.KEYWORD_ONLY,
                                                 inspect.Parameter.POSITIONAL_OR_KEYWORD)}
