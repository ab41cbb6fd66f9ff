"""Helpers shared by the model tests (imported by name: tests/models is on sys.path under pytest)."""
from __future__ import annotations

import torch
from torch import nn


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def run(model: nn.Module, size: tuple[int, int] | None = None, batch: int = 1) -> torch.Tensor:
    """Eval-mode forward of a random batch at ``size`` (default: the model's nominal input size)."""
    h, w = size or model.input_size
    model.eval()
    with torch.inference_mode():
        return model(torch.randn(batch, model.in_channels, h, w))


def macs_on_meta(model: nn.Module, size: tuple[int, int] = (224, 224)) -> float:
    """Multiply-adds of convolutions and linear layers at batch 1 (torch's FLOP counter, halved), on shapes only."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, 3, *size))
    return counter.get_total_flops() / 2


def assert_computes_the_same(theirs: nn.Module, ours: nn.Module, size: tuple[int, int] = (64, 64)) -> None:
    """After :func:`copy_randomised_state` from ``theirs`` into ``ours``, both give the same outputs (eval mode)."""
    copy_randomised_state(theirs.eval(), ours.eval())
    x = torch.randn(2, 3, *size)
    with torch.no_grad():
        expected = theirs(x)
        assert expected.abs().max() > 1e-3
        torch.testing.assert_close(ours(x), expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max()))


def copy_randomised_state(source: nn.Module, target: nn.Module) -> None:
    """Give ``source`` random weights and batch-norm statistics, then copy them into ``target`` in order.

    The two must register the same tensors in the same order (the same layers, whatever their names).
    """
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, tensor in source.state_dict().items():
            if tensor.is_floating_point():
                noise = torch.rand(tensor.shape, generator=generator) + 0.5
                tensor.copy_(noise if name.endswith("running_var") else (noise - 1.0) * 0.5)
    values = list(source.state_dict().values())
    assert [v.shape for v in values] == [v.shape for v in target.state_dict().values()]
    target.load_state_dict(dict(zip(target.state_dict(), values)))
