"""Inference rewrite: fold what is constant at inference time into weights and buffers.

* An eval-mode batch norm directly after a ``Conv2d`` is folded into the conv's weight and
  bias (exact algebra: BN is a per-channel affine map of the conv output). Others' norms count
  when they are provably that map (:func:`recalib.norms.norm_tail`): a subclass that also
  activates (timm's ``BatchNormAct2d``) is replaced by its activation, a frozen batch norm
  (buffers only) folds like PyTorch's; any other subclass is left as it is.
* Input-independent gates (blocks with ``constant_gate()``, e.g. the CC paper's static maps)
  are computed once and stored as one constant buffer, so one Mul remains instead of the
  excitation-map arithmetic.
* A per-channel scalar gate ``(C, 1, 1)`` directly after a Conv2d or BatchNorm2d (optionally
  through a ReLU, since ``relu(g·z) = g·relu(z)`` for ``g ≥ 0``) is multiplied into that
  layer's weight and bias so that no node remains. Where that is not provably exact the gate
  falls back to the single Mul, and the log says why.

"Directly after" is decided on the real dataflow: one eval forward pass records which module
produced and consumed which autograd node, and the autograd graph counts each node's
consumers, so a conv output that also feeds a skip connection is never folded. Modules
called more than once (shared weights) are never folded. The folded model is then checked
against the original on a random input: the original's output is the one that trace pass
computed, so the model is copied once (the copy is folded in place) and run once before folding.
"""
from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._pytree import tree_flatten

from recalib.errors import ConfigError, RecalibError, ShapeError, VerificationError
from recalib.norms import norm_parts, norm_tail

__all__ = ["fold", "fold_model", "FoldResult", "ConstantGate", "run_model"]

# Relative to the output's magnitude: rounding, not a real change, in the dtype of the check.
FOLD_TOLERANCE = {torch.float64: 1e-9, torch.float32: 1e-5}


class ConstantGate(nn.Module):
    """``x * gate`` with a precomputed gate of shape ``(C, H, W)`` or ``(C, 1, 1)``."""

    gate: torch.Tensor

    def __init__(self, gate: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("gate", gate.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, h, w = self.gate.shape
        if x.shape[1] != c or (h > 1 and tuple(x.shape[-2:]) != (h, w)):
            raise ShapeError(f"constant gate was folded for {c}x{h}x{w} features but got "
                             f"{'x'.join(map(str, x.shape[1:]))}")
        return x * self.gate


@dataclass
class FoldResult:
    """The folded model, what was done (one line per rewrite) and the check against the original."""

    model: nn.Module
    actions: list[str] = field(default_factory=list)
    max_abs_error: float = 0.0
    max_rel_error: float = 0.0
    check_dtype: str = "float64"


@dataclass
class _Trace:
    """Dataflow of one forward pass: per module, its calls' input/output autograd nodes."""

    names: dict[nn.Module, str]
    calls: Counter
    inputs: dict[nn.Module, Any] = field(default_factory=dict)
    outputs: dict[nn.Module, Any] = field(default_factory=dict)
    producer: dict[Any, nn.Module] = field(default_factory=dict)
    consumers: Counter = field(default_factory=Counter)
    output: list[Any] = field(default_factory=list)  # the model's outputs, detached


def fold(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> nn.Module:
    """A folded inference copy of ``model`` (eval mode); the original is left untouched.

    ``input_shape`` is ``(C, H, W)``; models built by ``create_model`` know their own.
    """
    return fold_model(model, input_shape).model


def fold_model(model: nn.Module, input_shape: tuple[int, ...] | None = None) -> FoldResult:
    """Like :func:`fold`, also returning the log of rewrites and the measured error.

    The rewrite is done and checked in float64, then cast back: the check then tests the
    algebra, not the model's conditioning (random-init deep nets amplify float32 rounding:
    re-rounding ResNet-152 + SE's weights alone moves its logits by 1e-3). Models that cannot
    run in float64 are folded and checked in their own dtype.
    """
    shape = _resolve_input_shape(model, input_shape)
    dtypes = {t.dtype for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()}
    dtype = dtypes.pop() if len(dtypes) == 1 else None
    if dtype in (torch.float32, torch.float64):
        try:
            result = _fold_as(model, shape, torch.float64)
            result.model.to(dtype)
            return result
        except ShapeError:  # e.g. a float32 constant built inside forward; retried below
            pass
    return _fold_as(model, shape, None)


def _fold_as(model: nn.Module, shape: tuple[int, ...], dtype: torch.dtype | None) -> FoldResult:
    """Fold a copy of ``model`` converted to ``dtype`` (None: as it is) and check it against the
    output the copy computed before it was folded."""
    folded = copy.deepcopy(model).eval()
    if dtype is not None:
        folded.to(dtype)
    x = torch.randn(1, *shape, dtype=dtype or torch.get_default_dtype())
    trace = _trace(folded, x)
    result = FoldResult(folded, check_dtype=str(x.dtype).removeprefix("torch."))
    for module in list(trace.names):
        if callable(getattr(module, "constant_gate", None)):
            result.actions.append(_fold_gate(folded, module, trace))
    alive = set(folded.modules())  # BNs inside a gate that was just replaced are gone
    for module in list(trace.names):
        if module in alive and norm_parts(module) is not None:
            action = _fold_bn(folded, module, trace)
            if action:
                result.actions.append(action)
    _check(trace.output, folded, x, result)
    return result


def _resolve_input_shape(model: nn.Module, input_shape: tuple[int, ...] | None) -> tuple[int, ...]:
    """``(C, H, W)`` from the argument, else from the architecture the model was built as."""
    if input_shape is not None:
        shape = tuple(int(d) for d in input_shape)
        return shape[1:] if len(shape) == 4 else shape
    record = getattr(model, "recalib_record", None)
    if record is not None:
        return tuple(record.input_chw())
    raise ConfigError("fold needs the input shape of this model: pass input_shape=(C, H, W)")


def _trace(model: nn.Module, x: torch.Tensor) -> _Trace:
    """Run one forward pass recording, per module, the autograd nodes it consumed and produced,
    and the model's outputs."""
    names: dict[nn.Module, str] = {}
    for name, module in model.named_modules(remove_duplicate=False):
        name = name or "<model>"
        names[module] = name if module not in names else names[module] + "|" + name
    trace = _Trace(names, Counter())

    def before(module: nn.Module, args: tuple) -> None:
        trace.calls[module] += 1
        trace.inputs[module] = args[0].grad_fn if args and torch.is_tensor(args[0]) else None

    def after(module: nn.Module, args: tuple, out: Any) -> None:
        trace.outputs[module] = out.grad_fn if torch.is_tensor(out) else None
        if torch.is_tensor(out) and out.grad_fn is not None:
            # Inner hooks fire first: the innermost module is the producer, not its container.
            trace.producer.setdefault(out.grad_fn, module)

    handles = [h for m in names for h in (m.register_forward_pre_hook(before),
                                          m.register_forward_hook(after))]
    flags = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in flags:
            p.requires_grad_(True)
        with torch.enable_grad():
            out = run_model(model, x.requires_grad_(True))
        trace.consumers = _count_consumers(out)
        trace.output = [t.detach() if torch.is_tensor(t) else t for t in tree_flatten(out)[0]]
    finally:
        for h in handles:
            h.remove()
        for p, flag in flags:
            p.requires_grad_(flag)
    return trace


def run_model(model: nn.Module, x: torch.Tensor) -> Any:
    """``model(x)``; a failure that is not ours means the model does not take this input."""
    try:
        return model(x)
    except RecalibError:
        raise
    except Exception as exc:
        raise ShapeError(f"the model fails on a {'x'.join(map(str, x.shape))} input ({type(exc).__name__}: "
                         f"{exc}); pass the input shape it was built for") from exc


def _count_consumers(out: Any) -> Counter:
    """How many autograd nodes consume each node, over the whole graph behind ``out``."""
    leaves, _ = tree_flatten(out)
    stack = [t.grad_fn for t in leaves if torch.is_tensor(t) and t.grad_fn is not None]
    seen: set[Any] = set()
    counts: Counter = Counter()
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for nxt, _ in node.next_functions:
            if nxt is not None:
                counts[nxt] += 1
                stack.append(nxt)
    return counts


def _replace(root: nn.Module, old: nn.Module, new: nn.Module) -> None:
    """Put ``new`` wherever ``old`` is registered as a child."""
    for parent in root.modules():
        for name, child in list(parent.named_children()):
            if child is old:
                setattr(parent, name, new)


def _single_use(trace: _Trace, module: nn.Module) -> bool:
    """Called exactly once and its output consumed by exactly one op."""
    node = trace.outputs.get(module)
    return trace.calls[module] == 1 and node is not None and trace.consumers[node] == 1


def _gate_producer(trace: _Trace, gate: nn.Module, nonneg: bool) -> tuple[nn.Module | None, str]:
    """The Conv2d/BatchNorm2d whose output the gate scales (through ReLU if ``nonneg``), or why not."""
    node = trace.inputs.get(gate)
    via = ""
    while node is not None and trace.consumers[node] == 1:
        producer = trace.producer.get(node)
        if isinstance(producer, (nn.Conv2d, nn.BatchNorm2d)) and _single_use(trace, producer):
            return producer, via
        if node.name() != "ReluBackward0" or not nonneg:
            break
        via = " through ReLU"
        node = node.next_functions[0][0]
    return None, via


def _fold_gate(root: nn.Module, gate: nn.Module, trace: _Trace) -> str:
    """Fold a scalar gate into its producer, else replace the gate by one constant Mul."""
    name = trace.names[gate]
    with torch.no_grad():
        g = getattr(gate, "constant_gate")().detach()
    g = g.view(-1, 1, 1) if g.dim() == 1 else g
    if g.dim() != 3:
        raise ConfigError(f"{name}: constant_gate() must return a (C, H, W) or (C, 1, 1) tensor, "
                          f"got shape {tuple(g.shape)}")
    if g.shape[1:] == (1, 1) and trace.calls[gate] == 1:
        producer, via = _gate_producer(trace, gate, nonneg=bool((g >= 0).all()))
        if producer is not None and _scale_channels(producer, g.flatten()):
            _replace(root, gate, nn.Identity())
            return (f"{name}: scalar gate folded into {trace.names[producer]} ({type(producer).__name__})"
                    f"{via}, no node left")
    _replace(root, gate, ConstantGate(g))
    return f"{name}: constant gate {'x'.join(map(str, g.shape))} stored as one buffer (one Mul)"


def _scale_channels(layer: nn.Module, g: torch.Tensor) -> bool:
    """Multiply output channel ``c`` of a conv or affine BN by ``g[c]``; False if impossible."""
    weight, bias = getattr(layer, "weight", None), getattr(layer, "bias", None)
    out_channels = layer.out_channels if isinstance(layer, nn.Conv2d) else getattr(layer, "num_features", 0)
    if weight is None or g.numel() not in (1, out_channels):
        return False
    g = g.expand(out_channels).to(weight.dtype)
    with torch.no_grad():
        weight.mul_(g.view(-1, *([1] * (weight.dim() - 1))))
        if bias is not None:
            bias.mul_(g)
    return True


def _fold_bn(root: nn.Module, bn: nn.Module, trace: _Trace) -> str | None:
    """Fold an eval-mode batch norm into the Conv2d that feeds it and nothing else, keeping what the norm
    does after normalising (:func:`recalib.norms.norm_tail`); None if that is not exact."""
    node = trace.inputs.get(bn)
    conv = trace.producer.get(node) if node is not None else None
    if trace.calls[bn] != 1 or not isinstance(conv, nn.Conv2d) or not _single_use(trace, conv):
        return None
    tail = norm_tail(bn)
    parts = norm_parts(bn)
    if tail is None or parts is None or parts.mean.numel() != conv.out_channels:
        return f"{trace.names[bn]}: {type(bn).__name__} left unfolded (it is not a batch norm followed by its submodules)"
    with torch.no_grad():
        scale = torch.rsqrt(parts.var.double() + parts.eps)
        if parts.weight is not None:
            scale = scale * parts.weight.double()
        shift = -parts.mean.double() * scale
        if parts.bias is not None:
            shift = shift + parts.bias.double()
        weight = conv.weight.double() * scale.view(-1, 1, 1, 1)
        bias = shift if conv.bias is None else conv.bias.double() * scale + shift
        conv.weight.copy_(weight.to(conv.weight.dtype))
        conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=conv.weight.requires_grad)
    _replace(root, bn, nn.Sequential(*tail) if tail else nn.Identity())
    kept = f", its {', '.join(type(m).__name__ for m in tail)} kept" if tail else ""
    what = "BatchNorm" if type(bn).__module__.startswith("torch.") else type(bn).__name__
    return f"{trace.names[bn]}: {what} folded into {trace.names[conv]}{kept}"


def _check(ref: list[Any], folded: nn.Module, x: torch.Tensor, result: FoldResult) -> None:
    """The folded model must reproduce the original's outputs ``ref`` on ``x`` to rounding; anything
    else is a folding bug."""
    with torch.no_grad():
        got, _ = tree_flatten(run_model(folded, x))
    for r, o in zip(ref, got):
        err = (r - o).abs().max().item()
        result.max_abs_error = max(result.max_abs_error, err)
        result.max_rel_error = max(result.max_rel_error, err / max(r.abs().max().item(), 1e-12))
    limit = FOLD_TOLERANCE.get(x.dtype, 1e-3)
    if not result.max_rel_error <= limit:  # NaN fails too
        raise VerificationError(f"folding changed the model's output by {result.max_rel_error:.2e} "
                                f"(relative, in {result.check_dtype}; limit {limit:.0e}); export "
                                f"without folding (fold=False / --no-fold) and report this model")
