"""Conventions differ exactly by their documented rules; names resolve or fail helpfully."""
from __future__ import annotations

from collections import Counter

import pytest

from recalib.profiling.counting.conventions import CONVENTIONS, PRESETS, READINGS, conventions_for, get_convention, resolve
from recalib.profiling.counting.counts import count_module
from recalib.profiling.counting.handles import CATEGORIES
from recalib.profiling.counting.scopes import scoped
from recalib import create_block, create_model
from recalib.errors import UnknownNameError

FLOPS = Counter({cat: 10 ** i for i, cat in enumerate(CATEGORIES)})
PARAMS = Counter({"weight": 1000, "bias": 100, "norm": 10, "other": 1, "norm_stats": 20000})


def _c(name: str, counts: Counter) -> float:
    return CONVENTIONS[name].apply(counts)


def test_flop_is_twice_mac() -> None:
    assert _c("flop", FLOPS) == 2 * _c("mac", FLOPS)


def test_mac_counts_only_the_multiply_add_core() -> None:
    assert _c("mac", FLOPS) == FLOPS["conv"] + FLOPS["fc"] + FLOPS["fixed"]
    assert _c("mac", FLOPS) - _c("mac-learned", FLOPS) == FLOPS["fixed"]


def test_mac_all_adds_normalisation_to_mac_inference() -> None:
    assert _c("mac-all", FLOPS) - _c("mac-inference", FLOPS) == FLOPS["bn"] + FLOPS["norm"]
    elementwise = sum(FLOPS[c] for c in ("pool", "act", "eltwise", "resize"))
    assert _c("mac-inference", FLOPS) == _c("mac", FLOPS) + elementwise


def test_flop_all_doubles_multiply_adds_but_not_single_ops() -> None:
    doubled = sum(FLOPS[c] for c in ("conv", "fc", "fixed", "bn", "norm", "resize"))
    single = sum(FLOPS[c] for c in ("pool", "act", "eltwise"))
    assert _c("flop-all", FLOPS) == 2 * doubled + single


def test_no_convention_counts_data_movement() -> None:
    assert all(c.weights.get("move", 0) == 0 for c in CONVENTIONS.values())


def test_parameter_conventions() -> None:
    assert _c("params", PARAMS) == 1111
    assert _c("params+stats", PARAMS) - _c("params", PARAMS) == PARAMS["norm_stats"]
    assert _c("weights", PARAMS) == PARAMS["weight"] + PARAMS["other"]


def test_conventions_on_a_real_trace() -> None:
    counts = count_module(create_block("ge-theta", 8, feat_size=(4, 4)), (1, 8, 4, 4))
    assert counts.total("flop") == 2 * counts.total("mac") == 2 * 8 * 16
    # BN on the 1×1 gathered map: 8 elements, counted only by the unfolded conventions.
    assert counts.total("mac-all") - counts.total("mac-inference") == 8


def test_presets_name_a_convention_and_a_reading() -> None:
    for preset in PRESETS.values():
        assert get_convention(preset.convention).name == preset.convention
        assert preset.reading in READINGS.values()
    convention, reading = resolve("se-ge-paper")
    assert convention.name == "mac+gates" and dict(reading.options) == {"stride_in_1x1": True}
    assert resolve("flop")[1].name == "default" and resolve("mac-learned+skip-transitions")[0].metric == "flops"


def test_gates_count_the_element_wise_products_inside_the_blocks_only() -> None:
    # SE on a CIFAR ResNet-20: the gate multiplies each block's map: 3 · (16·32² + 32·16² + 64·8²).
    counts = count_module(create_model("cifar_resnet20", "se", reduction=4).eval(), (1, 3, 32, 32))
    gates = counts.total("mac+gates") - counts.total("mac")
    assert gates == 3 * (16 * 32 * 32 + 32 * 16 * 16 + 64 * 8 * 8) == scoped(counts.flops[""], "blocks")["eltwise"]
    assert counts.categories("flops")["eltwise"] > gates  # the residual sums are not gates


def test_skip_transitions_leaves_out_the_densenet_transition_convolutions() -> None:
    counts = count_module(create_model("densenet_bc100").eval(), (1, 3, 32, 32))
    # trans1: 1×1 conv 216 → 108 at 32×32; trans2: 300 → 150 at 16×16.
    assert counts.total("mac") - counts.total("mac+skip-transitions") == 216 * 108 * 32 * 32 + 300 * 150 * 16 * 16
    assert counts.total("mac-all") - counts.total("mac-all+skip-transitions") > 35_407_872  # BN, ReLU, pool too


def test_every_convention_name_resolves_and_modifiers_apply_only_where_they_add_something() -> None:
    names = [c.name for c in conventions_for("flops")]
    assert names[0] == "mac" and len(names) == len(set(names)) == 18
    assert all(get_convention(name).name == name for name in names)
    assert [c.name for c in conventions_for("params")] == ["params", "params+stats", "weights"]
    with pytest.raises(UnknownNameError, match="skip-transitions"):
        get_convention("mac-all+gates")  # mac-all already counts every element-wise op
    with pytest.raises(UnknownNameError, match="none"):
        get_convention("params+stats+gates")


def test_unknown_names_list_the_valid_ones() -> None:
    with pytest.raises(UnknownNameError, match="mac-all"):
        get_convention("gflops")
    with pytest.raises(UnknownNameError, match="se-ge-paper"):
        resolve("caffe")
