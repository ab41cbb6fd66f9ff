"""A representative subset of the zoo exports verified (the full zoo: benchmarks/export_zoo.py)."""
from __future__ import annotations

import pytest

from recalib import export
import recalib
from export_helpers import randomize
from recalib.models import arch_entry

# One per backbone family the fast tests can afford, each with a different block family.
# The last field is a rewrite every such model must get from folding (None: nothing to fold).
SUBSET = [("cifar_resnet20", "se", "BatchNorm folded"), ("preact_resnet20", "cmpe-se-pair-2x1", "BatchNorm folded"),
          ("cc_vgg_cifar10", "cc-static", "one Mul"), ("cc_vgg_mnist", "cc-full", None),
          ("resnet18", "ge-theta", "BatchNorm folded")]


@pytest.mark.parametrize("arch,block,rewrite", SUBSET)
def test_zoo_model_exports_verified_and_trt_clean(arch, block, rewrite, tmp_path):
    entry = arch_entry(arch)
    model = randomize(recalib.create_model(arch, block))
    report = export.to_onnx(model, (entry.in_channels, *entry.input_size), tmp_path / "m.onnx")
    assert report.max_rel_error < 1e-4
    assert report.trt_findings == []
    assert any(rewrite in a for a in report.folding) if rewrite else report.folding == []
