"""Every subcommand that builds a model takes the same specification and builds exactly that model.

Each command is run until it has built the model the spec names; a spy on
``recalib.record.ModelRecord.create`` (the one constructor every path goes through,
``recalib.create_model`` included) keeps the model and stops the command there, so ResNet-50 is
checked without being exported or timed.
"""
from __future__ import annotations

from collections.abc import Callable

import pytest
from torch import nn

from recalib.cli.main import main
from recalib.record import ModelRecord


class Built(Exception):
    """Raised by the spy once the model under test is built."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__("built")
        self.model = model


def _ge_extent_8(model: nn.Module) -> bool:
    gates = [m for m in model.modules() if type(m).__name__ == "GatherExcite"]
    return bool(gates) and all(g.extent == 8 and g.variant == "theta-minus" for g in gates)


def _ms_sar_scales_1_2(model: nn.Module) -> bool:
    blocks = [m for m in model.modules() if type(m).__name__ == "MSSAR"]
    return bool(blocks) and all(b.scales == (1, 2) for b in blocks)


def _torchvision_layout(model: nn.Module) -> bool:
    unit = model.layer2[0]
    return (unit.conv1.stride, unit.conv2.stride) == ((1, 1), (2, 2))


# (how the spec is given to each command, what the built model must show)
SPECS: list[tuple[dict[str, list[str]], Callable[[nn.Module], bool]]] = [
    ({"model": ["cifar_resnet20+ge-theta-minus:extent=8"], "block": ["ge-theta-minus:extent=8"]}, _ge_extent_8),
    ({"model": ["cifar_resnet20+ms-sar:scales=(1,2)"], "block": ["ms-sar:scales=(1,2)"]}, _ms_sar_scales_1_2),
    ({"model": ["resnet50:stride_in_1x1=false"], "arch": ["resnet50:stride_in_1x1=false"]}, _torchvision_layout),
]
COMMANDS = {
    "export": lambda given: ["export", *given["model"], "-o", "never-written.onnx"],
    "bench": lambda given: ["bench", *given["model"], "--runtime", "torch-eager"],
    "profile": lambda given: ["profile", *given["model"]],
    "audit": lambda given: ["audit", "--sections", "latency", "--runtime", "ort-cpu", "--no-progress",
                            *(["--arch", *given["arch"]] if "arch" in given else ["--arch", "cifar_resnet20"]),
                            *(["--block", *given["block"]] if "block" in given else [])],
    "models": lambda given: ["models", "--block", *given["block"]],
}


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Callable[[Callable[[nn.Module], bool]], None]:
    """Install a spy that stops the command when a model satisfying ``wanted`` is built."""
    real = ModelRecord.create

    def install(wanted: Callable[[nn.Module], bool]) -> None:
        def create(record: ModelRecord) -> nn.Module:
            model = real(record)
            if wanted(model):
                raise Built(model)
            return model
        monkeypatch.setattr(ModelRecord, "create", create)
    return install


def _ms_sar_r16_resnext(model: nn.Module) -> bool:
    blocks = [m for m in model.modules() if type(m).__name__ == "MSSAR"]
    return bool(blocks) and type(model).__name__ == "ResNet" and all(b.reduction == 16 for b in blocks)


SPECS.append(({"model": ["ms-sar/table-5/resnext-50-ms-sar"]}, _ms_sar_r16_resnext))
SPEC_IDS = ["ge-theta-minus:extent=8", "ms-sar:scales=(1,2)", "resnet50:stride_in_1x1=false",
            "paper configuration"]
# Each command with each spec it can take: `models` takes a block; `audit` an architecture or a block.
CASES = [pytest.param(command, given, wanted, id=f"{command}-{spec_id}")
         for command in COMMANDS for (given, wanted), spec_id in zip(SPECS, SPEC_IDS)
         if (command != "models" or "block" in given) and (command != "audit" or {"arch", "block"} & set(given))]


@pytest.mark.parametrize("command, given, wanted", CASES)
def test_the_command_builds_the_model_the_spec_names(command: str, given: dict[str, list[str]],
                                                     wanted: Callable[[nn.Module], bool], spy, tmp_path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    spy(wanted)
    with pytest.raises(Built) as built:
        main(COMMANDS[command](given))
    assert wanted(built.value.model)
    assert list(tmp_path.iterdir()) == []  # stopped before anything was written
