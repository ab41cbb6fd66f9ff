"""``recalib.infra.meta``: a meta build skips filling values, and only on the meta device."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from recalib.infra.meta import meta_model


def test_a_meta_build_skips_torchs_value_resets_but_a_real_layer_built_meanwhile_is_reset(
        monkeypatch: pytest.MonkeyPatch) -> None:
    filled: set[tuple[str, tuple[int, ...]]] = set()  # a set: torch's function modes may pass a fill on twice
    kaiming = torch.nn.init.kaiming_uniform_

    def record(tensor: torch.Tensor, *args: object, **kwargs: object) -> torch.Tensor:
        filled.add((tensor.device.type, tuple(tensor.shape)))
        return kaiming(tensor, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch.nn.init, "kaiming_uniform_", record)
    originals = {kind: kind.__dict__["reset_parameters"]
                 for kind in (nn.modules.conv._ConvNd, nn.Linear, nn.modules.batchnorm._NormBase)}
    built = meta_model(lambda: nn.ModuleDict({
        "meta": nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2)),
        "real": nn.Conv2d(5, 6, 1, device="cpu")}), "a test model")
    assert filled == {("cpu", (6, 5, 1, 1))}  # the real conv's weight only; the meta conv's and linear's skipped
    real = built["real"]
    assert isinstance(real, nn.Conv2d) and real.weight.std() > 0 and not real.weight.is_meta
    assert all(p.is_meta for p in built["meta"].parameters())
    assert {kind: kind.__dict__["reset_parameters"] for kind in originals} == originals  # put back
    filled.clear()
    nn.Linear(4, 2)  # after the build, layers reset as always
    assert filled == {("cpu", (2, 4))}
