"""One recalibration gate as found in a graph (:class:`Gate`)."""
from __future__ import annotations

from dataclasses import dataclass

from recalib.export.graph.index import Shape

__all__ = ["Gate", "shape_text"]


def shape_text(shape: Shape | None) -> str:
    """``(batch, 256, 56, 56)`` → ``batch×256×56×56``; ``?`` for unknown dims or shapes."""
    return "?" if shape is None else "×".join("?" if d is None else str(d) for d in shape)


@dataclass(frozen=True)
class Gate:
    """A gate: ``feature * spread(squash(transform(descriptor(…))))``.

    ``mul`` is the multiply's node name and ``output`` its output tensor; ``feature`` the tensor it scales; ``nodes`` the branch
    that computes the gate (the multiply's other operand), in graph order, and ``weights`` the
    initializers only that branch reads; ``shared`` counts branch nodes that other parts of the
    graph read too (a shape read of the input), which an ablation keeps. ``descriptors`` are the
    op types of the reductions the branch starts from, ``activation`` its squash
    (``sigmoid``, ``hard sigmoid``, ``3 × sigmoid`` …) and ``kind`` what it scales: ``channel``
    (one value per channel), ``spatial`` (one per position) or ``regional`` (per channel and
    region). ``module`` is the module path (None when the graph does not say), ``whole_module``
    whether that module is the gate and nothing else (so PyTorch can bypass it); ``stage``
    numbers the feature map sizes in graph order (0: unknown). ``refused`` says why the gate
    cannot be ablated (None: it can).
    """

    number: int
    mul: str
    output: str
    feature: str
    feature_shape: Shape | None
    gate: str
    nodes: tuple[str, ...]
    weights: tuple[str, ...]
    shared: int
    descriptors: tuple[str, ...]
    activation: str
    kind: str
    module: str | None = None
    whole_module: bool = False
    stage: int = 0
    refused: str | None = None

    @property
    def name(self) -> str:
        """The module path, else the multiply's node name."""
        return self.module if self.module else self.mul

    @property
    def stage_size(self) -> str:
        """The feature map's spatial size (``56×56``), which defines its stage."""
        return shape_text(self.feature_shape[2:]) if self.feature_shape and len(self.feature_shape) > 2 else "?"

    def describe(self) -> str:
        """One line: what the gate is made of."""
        return (f"{'+'.join(self.descriptors)} -> {len(self.nodes)} nodes -> {self.activation}, "
                f"{self.kind} gate on {self.feature} ({shape_text(self.feature_shape)})")
