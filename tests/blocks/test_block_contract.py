"""The contract every registered block variant keeps, checked for all of them at once.

Family-specific numerics live beside this file; here each variant is built with its defaults and
with each alternative setting its paper describes (``recalib.blocks.block_variants``), run forward
and backward at several sizes (odd and non-divisible included), counted against its own parameter
formula, round-tripped through a state_dict, and trained at batch 1 or refused with a clear error.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from recalib import block_entry, create_block, list_blocks
from recalib.blocks import block_variants
from recalib.errors import RecalibError, ShapeError
from recalib.entries import keyword_names

CHANNELS = 64
SIZES = [(8, 8), (7, 7), (13, 9)]


VARIANTS = [(name, options) for name, _, options in block_variants()]
IDS = [name if label == "default" else f"{name}[{label}]" for name, label, _ in block_variants()]


def build(name: str, size: tuple[int, int], options: dict | None = None, channels: int = CHANNELS) -> nn.Module:
    """Build with ``options``, telling the block its feature size when its constructor takes one."""
    accepted = keyword_names(block_entry(name).builder)
    context = {"feat_size": size} if accepted is None or "feat_size" in accepted else {}
    return create_block(name, channels, **context, **(options or {}))


def call(name: str, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if block_entry(name).takes_identity:
        return block(x, torch.randn_like(x))
    return block(x)


def test_every_family_is_registered() -> None:
    names = set(list_blocks())
    expected = {"se", "ge-theta-minus", "ge-theta", "ge-theta-plus", "cc-full", "cc-no-mix", "cc-no-ch",
                "cc-reduced", "cc-scalar", "cc-static", "ms-sar", "cmpe-se-double-fc",
                "cmpe-se-pair-2x1", "cmpe-se-pair-1x1", "cmpe-se-folded-3x3"}
    assert expected <= names, f"missing: {sorted(expected - names)}"


@pytest.mark.parametrize("name", list_blocks())
def test_entry_documents_paper_and_formula(name: str) -> None:
    entry = block_entry(name)
    assert entry.paper and entry.params and entry.summary
    assert (type(build(name, SIZES[0])).__doc__ or "").strip(), "public block without a docstring"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
def test_forward_keeps_shape_and_backward_reaches_every_parameter(name: str, options: dict,
                                                                  size: tuple[int, int]) -> None:
    block = build(name, size, options).train()
    x = torch.randn(2, CHANNELS, *size, requires_grad=True)
    out = call(name, block, x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    missing = [n for n, p in block.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no gradient reached {missing}"


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
def test_parameter_count_equals_documented_formula(name: str, options: dict) -> None:
    block = build(name, SIZES[0], options)
    assert sum(p.numel() for p in block.parameters()) == block.formula_params()


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
def test_state_dict_round_trip_reproduces_outputs(name: str, options: dict) -> None:
    source, target = build(name, SIZES[1], options), build(name, SIZES[1], options)
    with torch.no_grad():  # make the running statistics and weights differ from a fresh build
        for p in source.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    source.train()
    call(name, source, torch.randn(4, CHANNELS, *SIZES[1]))
    target.load_state_dict(source.state_dict())
    source.eval(), target.eval()
    x = torch.randn(2, CHANNELS, *SIZES[1])
    torch.manual_seed(1)
    expected = call(name, source, x)
    torch.manual_seed(1)
    torch.testing.assert_close(call(name, target, x), expected)


@pytest.mark.parametrize("name", list_blocks())
def test_wrong_channel_count_is_a_shape_error_naming_it(name: str) -> None:
    block = build(name, SIZES[0])
    with pytest.raises(ShapeError, match=str(CHANNELS)):
        call(name, block, torch.randn(1, CHANNELS // 2, *SIZES[0]))


@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
def test_eval_mode_is_deterministic_and_batch_independent(name: str, options: dict) -> None:
    block = build(name, SIZES[0], options).eval()
    x = torch.randn(3, CHANNELS, *SIZES[0])
    identity = torch.randn_like(x)
    args = (x, identity) if block_entry(name).takes_identity else (x,)
    full = block(*args)
    single = block(*(a[:1] for a in args))
    torch.testing.assert_close(single, full[:1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", [(7, 7), (1, 1)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("name", "options"), VARIANTS, ids=IDS)
def test_training_at_batch_one_works_or_is_refused_naming_the_block(name: str, options: dict,
                                                                    size: tuple[int, int]) -> None:
    """Never PyTorch's "Expected more than 1 value per channel", which names no block."""
    try:
        block = build(name, size, options).train()
    except RecalibError:
        return  # a 1x1 map is not every block's to take (MS-SAR's K = 4 regions, CMPE-SE folds)
    try:
        out = call(name, block, torch.randn(1, CHANNELS, *size))
    except ShapeError as error:
        assert str(error).startswith(name) and "batch of at least 2" in str(error)
        assert block.eval() is block and call(name, block, torch.randn(1, CHANNELS, *size)).shape[0] == 1
    else:
        assert out.shape == (1, CHANNELS, *size)


@pytest.mark.parametrize("name", list_blocks())
def test_an_input_of_another_dtype_is_refused_by_name_not_by_torch(name: str) -> None:
    """float16, float64 and integer inputs to a float32 block: a clear ShapeError, never a silent promotion."""
    block = build(name, (8, 8))
    has_weights = any(t.is_floating_point() for t in (*block.parameters(), *block.buffers()))
    for dtype in (torch.float16, torch.float64, torch.int64):
        x = torch.ones(2, CHANNELS, 8, 8, dtype=dtype)
        args = (x, x) if block_entry(name).takes_identity else (x,)
        if dtype.is_floating_point and not has_weights:
            assert block(*args).dtype == dtype  # a parameter-free block computes in the input's dtype
            continue
        expected = "expects a floating-point input" if not dtype.is_floating_point else f"got a {dtype} input"
        with pytest.raises(ShapeError, match=expected):
            block(*args)
