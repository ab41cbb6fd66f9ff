"""One model specification: literals, the grammar, the kinds, and errors that name the wrong part."""
from __future__ import annotations

from pathlib import Path

import pytest

import recalib
from recalib.errors import ConfigError
from recalib.record import ModelRecord
from recalib.spec import parse_block, parse_spec


def test_the_grammar_splits_architecture_and_block_options() -> None:
    spec = parse_spec("resnet50:stride_in_1x1=false,num_classes=10+se:reduction=8,stages=(3,4)")
    assert spec.kind == "arch" and spec.record == ModelRecord(
        "resnet50", "se", {"stride_in_1x1": False, "num_classes": 10, "reduction": 8}, (3, 4))
    assert parse_block("ms-sar:scales=(1,2)") == ("ms-sar", {"scales": (1, 2)})


def test_stride_in_1x1_false_builds_the_torchvision_layout() -> None:
    """"false" must be False: a truthy string would build the Caffe layout (stride in the 1x1 conv)."""
    for text, strides in (("resnet50:stride_in_1x1=false", ((1, 1), (2, 2))),
                          ("resnet50:stride_in_1x1=TRUE", ((2, 2), (1, 1)))):
        unit = parse_spec(text).create().layer2[0]
        assert (unit.conv1.stride, unit.conv2.stride) == strides


def test_block_options_reach_the_built_blocks() -> None:
    model = parse_spec("cifar_resnet20+ms-sar:scales=(1,2)").create()
    assert {m.scales for m in model.modules() if type(m).__name__ == "MSSAR"} == {(1, 2)}
    assert model.recalib_record.options["scales"] == (1, 2)


@pytest.mark.parametrize("text, message", [
    ("resnet50+sx", "in 'resnet50+sx': unknown block 'sx'"),
    ("resnet5:num_classes=10", "in 'resnet5:num_classes=10': unknown model 'resnet5'"),
    ("resnet50:reduction=8+se", "'resnet50' does not take option(s) reduction"),
    ("resnet50+se:stride_in_1x1=false", "'se' does not take option(s) stride_in_1x1"),
    ("resnet50+se:reduction", "'reduction' in the options of block 'se' is not KEY=VALUE"),
    ("resnet50+se:reduction=8,reduction=4", "option 'reduction' of block 'se' is given twice"),
    ("resnet50:block=se", "not an option of the architecture"),
    ("resnet50+se+ge-theta", "one block per model"),
    ("resnet50+ms-sar:scales=(1,2", "unclosed bracket"),
    ("resnet50+se:stages=(0,)", "stages must be stage numbers from 1"),
    ("", "empty model specification"),
    ("runs/missing.onnx", "runs/missing.onnx: no such file"),
    ("runs/missing", "no such file, and not ARCH[+BLOCK]"),
])
def test_errors_name_the_part_that_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_spec(text)
    assert message in str(info.value)


def test_files_are_recognised_by_kind(tmp_path: Path) -> None:
    checkpoint = recalib.save_checkpoint(recalib.create_model("cc_vgg_mnist", "se", reduction=4),
                                         tmp_path / "m.safetensors")
    spec = parse_spec(str(checkpoint))
    assert spec.record is not None
    assert (spec.kind, spec.record.arch, spec.record.block, spec.record.options["reduction"], spec.path) == (
        "checkpoint", "cc_vgg_mnist", "se", 4, checkpoint)
    assert spec.input_chw() == (1, 28, 28) and spec.builds
    with pytest.raises(ConfigError, match="a checkpoint fixes its block"):
        spec.with_block("ge-theta")
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"")
    assert parse_spec(str(onnx_file)).kind == "onnx" and not parse_spec(str(onnx_file)).builds
    with pytest.raises(ConfigError, match="not a PyTorch model"):
        parse_spec(str(onnx_file)).create()


def test_block_and_size_are_added_through_the_same_parser() -> None:
    spec = parse_spec("cifar_resnet20").with_block("ge-theta-minus:extent=8").with_input_size((16, 16))
    assert spec.text == "cifar_resnet20+ge-theta-minus:extent=8"
    assert spec.record == ModelRecord("cifar_resnet20", "ge-theta-minus", {"extent": 8, "input_size": (16, 16)})
    assert spec.input_chw() == (3, 16, 16)
    with pytest.raises(ConfigError, match="has block 'ge-theta-minus' already"):
        spec.with_block("se")


def test_a_paper_configuration_is_a_spec_with_every_setting_of_its_row() -> None:
    config = recalib.get_paper_config("ms-sar/table-5/resnext-50-ms-sar")
    spec = parse_spec(config.name)
    assert (spec.kind, spec.record) == ("paper", config.record) and config.record.arch == "resnext50_32x4d"
    assert config.record.options["reduction"] == 16 and spec.input_chw() == (3, 224, 224)
    with pytest.raises(ConfigError, match="holds a model built for 224x224 input, not 64x64; drop --input-size"):
        spec.with_input_size((64, 64))
    with pytest.raises(ConfigError, match="needs a plain architecture"):
        spec.with_block("se")


def test_a_paper_configuration_builds_the_network_of_its_row() -> None:
    config = recalib.get_paper_config("ms-sar/table-2/rn-20-ms-sar")
    built, direct = parse_spec(config.name).create(), config.create()
    assert [tuple(p.shape) for p in built.parameters()] == [tuple(p.shape) for p in direct.parameters()]


def test_an_unknown_paper_configuration_lists_the_closest_names() -> None:
    with pytest.raises(ConfigError, match="unknown paper configuration .*ms-sar/table-5/resnext-50-ms-sar"):
        parse_spec("ms-sar/table-5/resnext-50-ms-sr")


def test_a_deeply_nested_spec_is_refused_with_a_bounded_message() -> None:
    """Issue 26: a RecursionError traceback."""
    text = "resnet50:a=" + "(" * 5000 + ")" * 5000
    with pytest.raises(ConfigError, match="brackets nested more than 32 deep") as caught:
        parse_spec(text)
    assert len(str(caught.value)) < 300


def test_a_long_valid_spec_is_read_as_a_spec_not_a_path() -> None:
    """Issue 26: an OS error (file name too long) instead of the spec."""
    text = "cc_vgg_mnist+se:reduction=" + " " * 300 + "4"
    assert parse_spec(text).record.options["reduction"] == 4


def test_a_file_named_like_an_architecture_does_not_shadow_it(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cifar_resnet20").write_text("not a checkpoint")
    assert parse_spec("cifar_resnet20").record == ModelRecord("cifar_resnet20", None, {})


def test_a_size_given_twice_must_agree() -> None:
    """Issue 26: the spec's input_size and --input-size disagreed without a word."""
    spec = parse_spec("cifar_resnet20:input_size=(32,32)")
    with pytest.raises(ConfigError, match=r"sets input_size=\(32, 32\), and --input-size says 16 16"):
        spec.with_input_size((16, 16))
    assert spec.with_input_size((32, 32)).input_chw() == (3, 32, 32)
