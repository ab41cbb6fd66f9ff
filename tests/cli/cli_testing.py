"""Shared names of the command-line tests."""
from __future__ import annotations

# Small enough that an export takes about a second: the CIFAR ResNet-20 at 16x16.
SMALL = "cifar_resnet20:input_size=(16,16)"
FAST = ["--threads", "1", "--warmup", "1", "--iters", "5"]
