"""The mobile backbones export to verified ONNX with their native gates and with every block they accept."""
from __future__ import annotations

from pathlib import Path

import pytest

from recalib import list_blocks
from recalib.export.prepare import prepare
from recalib.spec import parse_spec
from test_native_gates import MOBILE, SMALL, _expected_refusal

_SIZE = f"input_size=({SMALL[0]},{SMALL[1]})"


def _prepared_ops(spec: str, tmp_path: Path) -> dict[str, int]:
    """Export ``spec`` through the one preparation step; its parity checks pass; its op histogram."""
    report = prepare(parse_spec(spec), tmp_path / "model.onnx").report
    assert report is not None and report.parity and all(check.passed for check in report.parity)
    return dict(report.op_histogram)


def test_mobilenet_v3_exports_its_hard_sigmoid_gates_and_hard_swish_as_single_ops(tmp_path: Path) -> None:
    ops = _prepared_ops(f"mobilenet_v3_large:{_SIZE}", tmp_path)
    assert ops["HardSigmoid"] == 8 and ops["HardSwish"] == 21 and "Sigmoid" not in ops


@pytest.mark.slow
@pytest.mark.parametrize(("arch", "block"), [(arch, None) for arch in MOBILE] + [(arch, "none") for arch in MOBILE] + [
    (arch, block) for arch in MOBILE for block in list_blocks() if _expected_refusal(arch, block) is None])
def test_every_accepted_block_exports_with_parity(arch: str, block: str | None, tmp_path: Path) -> None:
    ops = _prepared_ops(f"{arch}:{_SIZE}" + (f"+{block}" if block else ""), tmp_path)
    assert ops.get("Conv", 0) > 0 and (block != "none" or "Sigmoid" not in ops and "HardSigmoid" not in ops)
