"""Shared names of the command-line tests."""
from __future__ import annotations

# Small enough that an export takes about a second (two convolutions, 1x28x28 input).
SMALL = "cc_vgg_mnist"
FAST = ["--threads", "1", "--warmup", "1", "--iters", "5"]
