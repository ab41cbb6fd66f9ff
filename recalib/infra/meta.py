"""A model built on PyTorch's ``meta`` device: every tensor's shape, no memory, in a fraction of a second.

What a specification asks for is checked here before anything real is allocated:

* a checkpoint's tensor shapes against the model its stored record names
  (:func:`check_state_shapes`): a 1 MB file whose record says ``num_classes=10000000`` is
  refused before a 2.6 GB classifier is made;
* what a batch and input size need in memory (:func:`estimate_memory`): a forward pass on
  meta tensors gives every activation's size, hence a lower bound on what a run needs
  (weights + input + the largest layer's input and output together), which
  :func:`recalib.infra.memory.check_fits` compares with the memory available, so ``--batch
  100000000`` is refused with the estimate instead of dying in an allocation.

Any error a constructor raises on the meta device other than a recalib error (a negative size,
a value of the wrong type that slipped through) becomes a :class:`ConfigError` naming the model.
Weight initialisation is skipped there: a meta tensor holds no values, and PyTorch runs the
in-place fills of ``torch.nn.init`` on meta tensors through slow Python reference kernels
(a third of the time it takes to build the papers' networks). The ``reset_parameters`` of
PyTorch's own convolutions, linear layers and norms, which only fill values, are not run on
meta tensors either: their fan and gain arithmetic alone was another 30% (1.7 s of CPU time
for the papers' 101 networks).
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import chain
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from recalib.errors import CheckpointError, ConfigError, RecalibError, first_line
from recalib.infra.memory import MemoryEstimate

__all__ = ["meta_model", "check_state_shapes", "estimate_memory"]


class _SkipValueFills(TorchFunctionMode):
    """Skips the in-place fills weight initialisation makes on meta tensors (they hold no values to fill)."""

    FILLS = frozenset({torch.Tensor.normal_, torch.Tensor.uniform_, torch.Tensor.zero_, torch.Tensor.fill_})

    def __torch_function__(self, func: Any, types: Any, args: Sequence[Any] = (),
                           kwargs: Mapping[str, Any] | None = None) -> Any:
        if func in self.FILLS and isinstance(args[0], torch.Tensor) and args[0].is_meta:
            return args[0]
        return func(*args, **(kwargs or {}))


# PyTorch's layers whose reset_parameters only fills their tensors' values; a subclass that
# overrides it keeps its own.
_VALUE_RESETS = (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._NormBase)
_ORIGINAL_RESETS: dict[type, Callable[[Any], None]] = {kind: kind.__dict__["reset_parameters"]
                                                       for kind in _VALUE_RESETS}
_resets = threading.Lock()
_builds_on_meta = 0  # meta builds under way, in any thread


def _unless_meta(reset: Callable[[Any], None]) -> Callable[[Any], None]:
    """``reset``, except on a layer whose tensors are meta tensors (no values to fill)."""
    def reset_parameters(self: nn.Module) -> None:
        first = next(chain(self.parameters(recurse=False), self.buffers(recurse=False)), None)
        if first is None or not first.is_meta:
            reset(self)

    return reset_parameters


_SKIPPING_RESETS = {kind: _unless_meta(reset) for kind, reset in _ORIGINAL_RESETS.items()}


@contextlib.contextmanager
def _meta_resets_skipped() -> Iterator[None]:
    """Within the block, :data:`_VALUE_RESETS` skip layers on the meta device. The layers of other threads
    are real and reset as always; the originals are back when the last meta build ends."""
    global _builds_on_meta
    with _resets:
        if _builds_on_meta == 0:
            for kind, reset in _SKIPPING_RESETS.items():
                setattr(kind, "reset_parameters", reset)
        _builds_on_meta += 1
    try:
        yield
    finally:
        with _resets:
            _builds_on_meta -= 1
            if _builds_on_meta == 0:
                for kind, reset in _ORIGINAL_RESETS.items():
                    setattr(kind, "reset_parameters", reset)


def meta_model(build: Callable[[], nn.Module], what: str) -> nn.Module:
    """``build()`` on the meta device, weight initialisation skipped; ``what`` names the model in errors."""
    try:
        with torch.device("meta"), _SkipValueFills(), _meta_resets_skipped():
            return build()
    except RecalibError:
        raise
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise ConfigError(f"cannot build {what}: {first_line(exc)}; check the options' values") from None


def check_state_shapes(model: nn.Module, shapes: Mapping[str, Sequence[int]], source: str, fix: str) -> None:
    """Raise :class:`CheckpointError` unless ``shapes`` (name → shape, of ``source``) are exactly
    ``model``'s tensors; ``fix`` ends the message."""
    own = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    given = {name: tuple(shape) for name, shape in shapes.items()}
    missing, unexpected = sorted(set(own) - set(given)), sorted(set(given) - set(own))
    wrong = sorted(k for k in set(own) & set(given) if own[k] != given[k])
    if not (missing or unexpected or wrong):
        return
    details = [f"{len(missing)} missing (e.g. {missing[:3]})" if missing else "",
               f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})" if unexpected else "",
               f"{len(wrong)} of another shape (e.g. {wrong[0]}: {source} {given[wrong[0]]} vs model "
               f"{own[wrong[0]]})" if wrong else ""]
    raise CheckpointError(f"the weights of {source} do not fit the architecture its spec names: "
                          f"{'; '.join(d for d in details if d)}; {fix}")


def _nbytes(value: object) -> int:
    tensors = value if isinstance(value, (tuple, list)) else (value,)
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def estimate_memory(model: nn.Module, shape: Sequence[int]) -> MemoryEstimate:
    """The :class:`MemoryEstimate` of ``model`` (on the meta device) on a float32 input of ``shape``."""
    largest = [0]

    def record(module: nn.Module, args: tuple, output: object) -> None:
        largest[0] = max(largest[0], _nbytes(args) + _nbytes(output))

    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    x = torch.empty(*shape, device="meta")
    try:
        with torch.no_grad():
            model.eval()(x)
    except (NotImplementedError, RuntimeError):
        largest[0] = 0  # an op without a meta kernel: the input is all we can vouch for
    finally:
        for handle in handles:
            handle.remove()
    weights = sum(_nbytes(t) for t in model.state_dict().values())
    return MemoryEstimate(weights, x.numel() * x.element_size(), largest[0])
