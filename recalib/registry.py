"""Name → constructor registries for blocks and models.

A backbone takes ``block="se"`` and stays ignorant of the family; the registry resolves the
name, merges the variant's fixed options, and rejects options the constructor does not take
(instead of silently ignoring them, or failing with a ``TypeError`` deep in a constructor).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, TypeVar

from torch import nn

from recalib.errors import ConfigError, UnknownNameError
from recalib.literals import parse_value
from recalib.option_types import describe, fits, hints

__all__ = ["BlockSpec", "ModelSpec", "Registry", "BLOCKS", "MODELS", "register_block", "register_model", "build",
           "check_options", "keyword_names", "keyword_defaults"]


@dataclass(frozen=True)
class BlockSpec:
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


@dataclass(frozen=True)
class ModelSpec:
    """How to build one named architecture (``input_size`` is its nominal (H, W)).

    ``dataset`` is what the papers train it on (``imagenet``, ``cifar``, ``mnist``): a paper's
    block setting for a family of backbones is often a setting per dataset
    (:mod:`recalib.models.block_defaults`).
    """

    name: str
    builder: Callable[..., nn.Module]
    paper: str
    summary: str
    input_size: tuple[int, int]
    dataset: str
    in_channels: int = 3
    fixed: Mapping[str, Any] = field(default_factory=dict)


S = TypeVar("S", BlockSpec, ModelSpec)


class Registry(Generic[S]):
    """A mapping of stable names to specs, with helpful errors for unknown names."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._specs: dict[str, S] = {}

    def add(self, spec: S) -> S:
        if spec.name in self._specs:
            raise ConfigError(f"{self.kind} {spec.name!r} is registered twice")
        self._specs[spec.name] = spec
        return spec

    def get(self, name: str) -> S:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, sorted(self._specs)) from None

    def names(self) -> list[str]:
        return sorted(self._specs)

    def __iter__(self) -> Iterator[S]:
        return iter(self._specs[n] for n in self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._specs


BLOCKS: Registry[BlockSpec] = Registry("block")
MODELS: Registry[ModelSpec] = Registry("model")


def register_block(name: str, builder: Callable[..., nn.Module], *, paper: str, params: str,
                   summary: str, fixed: Mapping[str, Any] | None = None,
                   takes_identity: bool = False, needs_feat_size: bool = False,
                   alternatives: Mapping[str, Mapping[str, Any]] | None = None) -> BlockSpec:
    """Register ``builder`` (usually a block class) under ``name`` with the variant's fixed options."""
    frozen = {label: MappingProxyType(dict(options)) for label, options in (alternatives or {}).items()}
    return BLOCKS.add(BlockSpec(name, builder, paper, params, summary, MappingProxyType(dict(fixed or {})),
                                takes_identity, needs_feat_size, MappingProxyType(frozen)))


def register_model(name: str, builder: Callable[..., nn.Module], *, paper: str, summary: str,
                   input_size: tuple[int, int], dataset: str, in_channels: int = 3,
                   fixed: Mapping[str, Any] | None = None) -> ModelSpec:
    """Register a backbone constructor under ``name`` with its nominal input size and dataset."""
    return MODELS.add(ModelSpec(name, builder, paper, summary, input_size, dataset, in_channels,
                                MappingProxyType(dict(fixed or {}))))


def build(spec: BlockSpec | ModelSpec, args: tuple[Any, ...], options: Mapping[str, Any]) -> nn.Module:
    """Call ``spec.builder(*args, **fixed, **options)`` after validating the option names."""
    check_options(spec, options)
    return spec.builder(*args, **spec.fixed, **options)


def check_options(spec: BlockSpec | ModelSpec, options: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` for an option ``spec`` fixes, its constructor does not take, or
    whose value does not fit the constructor's annotation (:mod:`recalib.option_types`)."""
    clash = sorted(set(options) & set(spec.fixed))
    if clash:
        raise ConfigError(f"{spec.name!r} fixes {', '.join(f'{k}={spec.fixed[k]!r}' for k in clash)}; "
                          f"do not pass {', '.join(clash)} (pick another variant instead)")
    accepted = keyword_names(spec.builder)
    if accepted is not None:
        unknown = sorted(set(options) - accepted)
        if unknown:
            valid = sorted(accepted - set(spec.fixed))
            raise ConfigError(f"{spec.name!r} does not take option(s) {', '.join(unknown)}; "
                              f"valid options: {', '.join(valid) or 'none'}")
    annotations = hints(spec.builder)
    for key, value in options.items():
        hint = annotations.get(key)
        if hint is not None and not fits(value, hint):
            raise ConfigError(f"{spec.name!r}: option {key} must be {describe(hint)}, got the "
                              f"{type(value).__name__} {value!r}{_unquote_hint(value, hint)}")


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
