"""Train a CIFAR-scale network with and without a recalibration block on real handwritten digits.

    python examples/train_digits.py                          # cifar_resnet20, plain and + se, 32x32
    python examples/train_digits.py --block ms-sar --epochs 15 -o runs/
    recalib export runs/se.safetensors -o se.onnx --verify-data digits   # then deploy what you trained
    python examples/train_digits.py --arch examples/foreign_models.py:mobilenet_v3_large:width=0.25,num_classes=10 \
        --input-size 32 32                                   # your own model (this runs your code)

The data are scikit-learn's digits (1,797 8x8 images shipped in the wheel, no download),
split once with a fixed seed into 1,348 training and 449 test images and upsampled to the
network's input size (:func:`recalib.export.labelled.digits`, the same split ``recalib export
--verify-data digits`` verifies on). The loop is plain PyTorch, seeded (weights, shuffling):
recalib supplies the blocks and the models, not a trainer. Each model's test accuracy and
training time are printed, and each is saved with :func:`recalib.save_checkpoint` as
``<OUT>/plain.safetensors`` and ``<OUT>/<block>.safetensors``.

``--arch`` takes any model specification that builds a PyTorch model (:mod:`recalib.spec`): your
own model, ``FILE.py:FACTORY[:K=V,...]``, is trained as it is (no block is inserted) and its
weights are saved as a plain safetensors state dict, ``<OUT>/model.safetensors``: a recalib
checkpoint names one of recalib's architectures, and recalib never runs code a file names, so
load the weights in your factory (``model.load_state_dict(safetensors.torch.load_file(path))``)
to export what you trained.

Chance is 10% (ten balanced classes). Every block family reaches well over 90% with the
default schedule; ``MIN_ACCURACY`` (80%) is the bar the tests hold every block to (and
``benchmarks/trained.py`` prints beside its accuracies): far above chance and above what an
untrained or broken block gives, yet below what a short schedule reaches, so it flags a
block that does not learn rather than an unlucky seed.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

import recalib
from recalib.errors import ConfigError, RecalibError
from recalib.export.labelled import LabelledData, digits
from recalib.infra.progress import progress_bar
from recalib.record import ModelRecord
from recalib.spec import Spec, parse_spec

MIN_ACCURACY = 0.80
CHANCE = 0.10
DEFAULT_BLOCK = "se"


@dataclass(frozen=True)
class Schedule:
    """SGD with momentum and a cosine-decayed learning rate, ``epochs`` passes over the training split."""

    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-4
    seed: int = 0


@dataclass(frozen=True)
class Trained:
    """A trained model with its test accuracy and how long training took."""

    spec: Spec
    model: nn.Module
    accuracy: float
    seconds: float


def train(model: nn.Module, data: LabelledData, schedule: Schedule, progress: str | None = None) -> nn.Module:
    """Train ``model`` on ``data`` with ``schedule``; shuffling is drawn from the schedule's seed.
    ``progress``: a bar's label, one step per epoch on stderr when it is a terminal (None: silent)."""
    inputs, labels = torch.from_numpy(data.inputs), torch.from_numpy(data.labels)
    steps = schedule.epochs * -(-len(labels) // schedule.batch_size)
    optimizer = torch.optim.SGD(model.parameters(), lr=schedule.lr, momentum=0.9,
                                weight_decay=schedule.weight_decay, nesterov=True)
    lr_schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, schedule.lr, total_steps=steps)
    shuffle = torch.Generator().manual_seed(schedule.seed)
    model.train()
    for _ in progress_bar(range(schedule.epochs), show=progress is not None, desc=progress, unit="epoch"):
        for batch in torch.randperm(len(labels), generator=shuffle).split(schedule.batch_size):
            optimizer.zero_grad(set_to_none=True)
            F.cross_entropy(model(inputs[batch]), labels[batch]).backward()
            optimizer.step()
            lr_schedule.step()
    return model.eval()


def accuracy(model: nn.Module, data: LabelledData, batch_size: int = 256) -> float:
    """Top-1 accuracy of ``model`` (eval mode) on ``data``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            logits = model(torch.from_numpy(data.inputs[start:start + batch_size]))
            correct += int((logits.argmax(1) == torch.from_numpy(data.labels[start:start + batch_size])).sum())
    return correct / len(data)


def train_spec(spec: Spec, schedule: Schedule, progress: bool = False) -> Trained:
    """Build ``spec`` with weights from the schedule's seed, train it on the digits, test it
    (``progress``: a bar per epoch)."""
    chw = spec.input_chw()
    train_split, test_split = digits("train", chw), digits("test", chw)
    torch.manual_seed(schedule.seed)
    model = spec.create()
    start = time.perf_counter()
    train(model, train_split, schedule, spec.text if progress else None)
    seconds = time.perf_counter() - start
    return Trained(spec, model, accuracy(model, test_split), seconds)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="cifar_resnet20",
                   help="the backbone, ARCH[:K=V,...], or your own model, FILE.py:FACTORY[:K=V,...] (this runs your "
                        "code; trained as it is) (default: cifar_resnet20)")
    p.add_argument("--block", default=None,
                   help=f"the block, BLOCK[:K=V,...] (default: {DEFAULT_BLOCK}; recalib's architectures only)")
    p.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="input height and width (default: the architecture's, 32x32 for CIFAR nets, or the size your "
                        "model declares)")
    p.add_argument("--epochs", type=int, default=Schedule.epochs)
    p.add_argument("--lr", type=float, default=Schedule.lr, help="peak learning rate")
    p.add_argument("--seed", type=int, default=Schedule.seed, help="seed of weights and shuffling")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("-o", "--output", type=Path, default=Path("digits-checkpoints"), help="checkpoint folder")
    return p.parse_args(argv)


def _specs(args: argparse.Namespace) -> list[Spec]:
    """The models to train: the architecture plain and with the block, or your own model as it is."""
    model = parse_spec(args.arch)
    if not model.builds or model.kind == "program":
        raise ConfigError(f"--arch {args.arch} is an exported {model.kind}, fixed for inference; train a model "
                          f"recalib or your factory builds")
    own = not isinstance(model.record, ModelRecord)
    if own and args.block is not None:
        raise ConfigError(f"--block {args.block}: blocks go into recalib's architectures; {args.arch} is trained as it is")
    specs = [model] if own else [model, model.with_block(args.block or DEFAULT_BLOCK)]
    if args.input_size:
        specs = [spec.with_input_size((args.input_size[0], args.input_size[1])) for spec in specs]
    return specs


def _save(result: Trained, folder: Path) -> Path:
    """A recalib checkpoint (``plain`` or the block's name), or your model's state dict (``model``)."""
    record = result.spec.record
    if not isinstance(record, ModelRecord):
        path = folder / "model.safetensors"
        save_file({k: v.contiguous() for k, v in result.model.state_dict().items()}, str(path))
        return path
    return recalib.save_checkpoint(result.model, folder / f"{record.block or 'plain'}.safetensors")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    specs = _specs(args)
    args.output.mkdir(parents=True, exist_ok=True)
    schedule = Schedule(epochs=args.epochs, lr=args.lr, seed=args.seed)
    paths = []
    for spec in specs:
        result = train_spec(spec, schedule, progress=True)
        paths.append(_save(result, args.output))
        print(f"{spec.text}: test accuracy {100 * result.accuracy:.2f}% (chance {100 * CHANCE:.0f}%), "
              f"trained in {result.seconds:.1f} s, saved {paths[-1]}", flush=True)
    if len(specs) > 1:
        print(f"next: recalib export {paths[-1]} -o model.onnx --verify-data digits")
    else:
        print(f"next: load {paths[-1]} in your factory (model.load_state_dict(safetensors.torch.load_file(path))), "
              f"then recalib export FILE.py:FACTORY -o model.onnx --verify-data digits")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except RecalibError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(exc.exit_code) from None
