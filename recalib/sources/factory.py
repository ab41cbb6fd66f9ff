"""A user's factory, ``FILE.py:FACTORY[:K=V,...]`` or ``package.module:FACTORY[:K=V,...]``, as a model record.

:class:`FactoryRecord` answers what a :class:`~recalib.record.ModelRecord` answers: it builds the
model (imports the file or module and calls the factory with the keyword arguments: the user's
code runs), builds it on the meta device, says which input it takes (:mod:`recalib.sources.input_size`)
and describes itself. Every way it can go wrong is an error of ours that names the factory and
what to fix: the file or attribute is missing, the keyword arguments do not fit its signature,
it raised (the first line of its error is quoted), it returned something that is not an
``nn.Module``, or the model does not run at the input size.
"""
from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from torch import nn

from recalib.entries import check_keywords
from recalib.errors import ConfigError, RecalibError, first_line
from recalib.record import hashable_value
from recalib.sources.input_size import check_forward, resolve_input_chw
from recalib.sources.user_code import find_attribute, import_file, import_module

__all__ = ["FactoryRecord"]


@dataclass(frozen=True)
class FactoryRecord:
    """``factory`` of ``source`` (a ``.py`` file's path, or a module's dotted name), called with ``options``.

    ``input_size`` is ``--input-size`` (H, W); None takes the size the model declares.
    """

    source: str
    factory: str
    options: Mapping[str, Any] = field(default_factory=dict)
    input_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", MappingProxyType({k: hashable_value(v) for k, v in self.options.items()}))

    def __hash__(self) -> int:
        return hash((self.source, self.factory, tuple(sorted(self.options.items())), self.input_size))

    def __reduce__(self) -> tuple[type[FactoryRecord], tuple[Any, ...]]:
        """Pickled by its fields (a read-only view cannot be, and what it learnt is not sent)."""
        return FactoryRecord, (self.source, self.factory, dict(self.options), self.input_size)

    @property
    def target(self) -> str:
        """``SOURCE:FACTORY``, as the specification names it."""
        return f"{self.source}:{self.factory}"

    @property
    def file(self) -> Path | None:
        """The Python file the factory is defined in, when named by its path."""
        return Path(self.source) if self.source.endswith(".py") else None

    def function(self) -> Callable[..., Any]:
        """The factory, imported (the user's module runs) and checked against the keyword arguments."""
        module = import_file(self.file) if self.file is not None else import_module(self.source)
        function = find_attribute(module, self.factory, self.source)
        if not callable(function):
            raise ConfigError(f"{self.target} is a {type(function).__name__}, not a function or class; name the "
                              f"factory that returns the model")
        check_keywords(self.target, function, self.options)
        try:
            inspect.signature(function).bind(**self.options)
        except TypeError as exc:
            raise ConfigError(f"{self.target}: {exc}; give it as {self.target}:NAME=VALUE") from None
        except ValueError:
            pass  # a builtin without a signature: the call says what is wrong
        return function

    def _call(self) -> nn.Module:
        function = self.function()
        try:
            model = function(**self.options)
        except RecalibError:
            raise
        except Exception as exc:
            raise ConfigError(f"the factory {self.target} raised {type(exc).__name__}: {first_line(exc)}; "
                              f"fix the factory or its arguments") from exc
        if not isinstance(model, nn.Module):
            raise ConfigError(f"the factory {self.target} returned a {type(model).__name__}, not a torch.nn.Module; "
                              f"make it return the model")
        return model

    def create(self) -> nn.Module:
        """The model as the factory returns it (its own weights), checked to run at :meth:`input_chw`."""
        model = self._call()
        chw = self._chw_of(model)
        check_forward(model, chw, self.describe())
        return model

    def create_on_meta(self, what: str | None = None) -> nn.Module:
        """The model on the meta device, or built for real where the factory cannot build on meta
        (it loads weights, say): the result is the same model, only dearer."""
        from recalib.infra.meta import meta_model

        try:
            with warnings.catch_warnings():  # e.g. "copying … to a meta parameter is a no-op": ours, not the user's
                warnings.simplefilter("ignore")
                return meta_model(self._call, what or self.describe())
        except RecalibError:
            return self._call()  # the same model on the CPU, or the factory's own error

    def input_chw(self) -> tuple[int, int, int]:
        """``(C, H, W)`` the model takes (:mod:`recalib.sources.input_size`); the model is built once
        (on the meta device) to read what it declares."""
        return self._declared_chw

    @cached_property
    def _declared_chw(self) -> tuple[int, int, int]:
        return resolve_input_chw(self.create_on_meta(), self.input_size, self.describe())

    def _chw_of(self, model: nn.Module) -> tuple[int, int, int]:
        if "_declared_chw" not in self.__dict__:
            self.__dict__["_declared_chw"] = resolve_input_chw(model, self.input_size, self.describe())
        return self._declared_chw

    def with_input_size(self, size: tuple[int, int]) -> FactoryRecord:
        """Built as before, taking ``size`` (H, W)."""
        return replace(self, input_size=(int(size[0]), int(size[1])))

    def describe(self) -> str:
        """E.g. ``examples/foreign_models.py:seresnet50 width=0.25`` (options sorted by name)."""
        return " ".join([self.target, *(f"{k}={v}" for k, v in sorted(self.options.items()))])
