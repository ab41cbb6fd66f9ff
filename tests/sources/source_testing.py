"""A user's model file and a torch.export archive, written by the tests of model sources."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# A user's file: tiny models (an export takes about a second) and factories that go wrong.
NETS = '''
import torch
from torch import nn

from neighbour import WIDTH  # a file imports its neighbours, as a script does


class Tiny(nn.Module):
    def __init__(self, width: int = WIDTH, classes: int = 3) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.fc = nn.Linear(width, classes)
        self.default_input_size = (3, 8, 8)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


class Flat(nn.Module):
    """Takes 8x8 inputs only (a linear layer on the flattened image)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 8 * 8, 2)
        self.pretrained_cfg = {"input_size": (3, 8, 8)}

    def forward(self, x):
        return self.fc(x.flatten(1))


def tiny(width: int = WIDTH, classes: int = 3) -> nn.Module:
    return Tiny(width, classes)


def flat() -> nn.Module:
    return Flat()


def undeclared() -> nn.Module:
    model = Tiny()
    del model.default_input_size
    return model


def broken() -> nn.Module:
    raise ValueError("no weights at /models/w.pt\\nsecond line")


def not_a_module():
    return {"conv": 1}


def needs(classes: int) -> nn.Module:
    return Tiny(classes=classes)


def trained() -> nn.Module:
    model = Tiny()
    model.bn.running_mean.fill_(0.5)
    model.bn.running_var.fill_(2.0)
    return model
'''


def write_nets(folder: Path) -> Path:
    """``nets.py`` (and its neighbour) in ``folder``; factories ``tiny``, ``flat``, ``undeclared``,
    ``broken``, ``not_a_module``, ``needs``, ``trained``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "neighbour.py").write_text("WIDTH = 4\n", encoding="utf-8")
    path = folder / "nets.py"
    path.write_text(NETS, encoding="utf-8")
    return path


class TwoInputs(nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y


def tiny_module() -> nn.Module:
    """The tiny model, in eval mode, with statistics: what a user exports after training."""
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                          nn.Flatten(), nn.Linear(4, 3))
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    return model.eval()


def save_program(path: Path, module: nn.Module | None = None, dynamic: str = "batch") -> Path:
    """``module`` (default :func:`tiny_module`) exported at 8x8 by ``torch.export`` and saved to ``path``;
    ``dynamic``: ``"batch"`` (a dynamic batch), ``"size"`` (dynamic batch, height and width) or ``""`` (all static:
    batch 2)."""
    module = module if module is not None else tiny_module()
    batch, size = torch.export.Dim("batch"), torch.export.Dim("size", min=4, max=64)
    shapes = {"batch": ({0: batch},), "size": ({0: batch, 2: size, 3: size},), "": None}[dynamic]
    program = torch.export.export(module, (torch.randn(2, 3, 8, 8),), dynamic_shapes=shapes)
    torch.export.save(program, str(path))
    return path
