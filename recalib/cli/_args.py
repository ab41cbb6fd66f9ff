"""The flags the subcommands share, defined once so every subcommand spells them alike.

- a model is one specification (:mod:`recalib.spec`): ``ARCH[:K=V,...][+BLOCK[:K=V,...]]``, a
  checkpoint, a factory ``FILE.py:FACTORY[:K=V,...]`` or ``package.module:FACTORY[:K=V,...]``, a
  ``torch.export`` program (``.pt2``), or an exported file; ``--block BLOCK[:K=V,...]`` is the same block part, given
  apart (repeatable where models are compared; specs hold commas, so they are never
  comma-joined);
- lists of plain names or numbers (``--runtime``, ``--batch``, ``--sections``) take commas, and
  may be repeated;
- ``--runtime RUNTIME[@DEVICE]``, ``--batch``, ``--iters``, ``--warmup``, ``--threads`` for
  timing; ``--tolerance`` wherever outputs are verified, ``--target`` or ``--no-optimize``
  wherever ONNX files are exported; ``--json`` prints JSON instead of
  text; ``-o``/``--output`` names what is written, ``--force`` lets it replace a file.

Only argparse and :mod:`recalib.literals` are imported here: these modules load before torch.
"""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from recalib.literals import split_top_level

__all__ = ["comma_list", "given", "add_model", "add_blocks", "add_input_size", "add_runtime", "add_timing",
           "add_verification", "add_tolerance", "add_target", "add_verify_data", "add_output", "output_path",
           "add_seed", "seed_value"]


def given(**values: Any) -> dict[str, Any]:
    """The values the user gave: None means the flag was absent, so it is left out and the option
    record's own default applies; lists become tuples, as records hold them."""
    return {key: tuple(value) if isinstance(value, list) else value for key, value in values.items()
            if value is not None}


def comma_list(convert: Callable[[str], Any] = str, what: str = "names") -> Callable[[str], list[Any]]:
    """An argparse type: ``"a,b"`` → ``[convert("a"), convert("b")]`` (with ``action="extend"``)."""
    def parse(text: str) -> list[Any]:
        items = [item for item in split_top_level(text) if item]
        try:
            values = [convert(item) for item in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated {what}, got {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError(f"give at least one of the {what}")
        return values
    return parse


def add_model(parser: argparse.ArgumentParser, several: bool = False, files: bool = False) -> None:
    """The positional model specification(s)."""
    kinds = ("ARCH[:K=V,...][+BLOCK[:K=V,...]], a checkpoint (.safetensors), your own model as FILE.py:FACTORY"
             "[:K=V,...] or package.module:FACTORY[:K=V,...] (this runs your code), a torch.export program (.pt2)") + (
        ", or an exported .onnx file (TensorRT: .engine)" if files else "")
    parser.add_argument("model", nargs="+" if several else None, metavar="MODEL",
                        help=f"{kinds}; e.g. resnet50:stride_in_1x1=false+se:reduction=8 or "
                             f"examples/foreign_models.py:seresnet50:width=0.5 (see `recalib models` and `recalib blocks`)")


def add_blocks(parser: argparse.ArgumentParser, several: bool = False, extra: str = "") -> None:
    """``--block BLOCK[:K=V,...]``: the ``+BLOCK`` part of a spec, given apart."""
    parser.add_argument("--block", action="append" if several else "store", default=[] if several else None,
                        metavar="BLOCK[:K=V,...]",
                        help=f"insert this block, e.g. ge-theta-minus:extent=8 or ms-sar:scales=(1,2) "
                             f"(the same as MODEL+BLOCK){extra}")


def add_input_size(parser: argparse.ArgumentParser,
                   default: str = "the architecture's nominal size; for your own model, its "
                                  "model.default_input_size (C, H, W), or a .pt2 program's static size") -> None:
    """The ``--input-size H W`` option (None when absent: ``default`` applies; for models, the rule of
    :mod:`recalib.sources.input_size`)."""
    parser.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                        help=f"input height and width (default: {default})")


def seed_value(text: str) -> int:
    """An argparse type: a seed, refused before any work unless an integer in [0, 2**64)."""
    from recalib.errors import ConfigError
    from recalib.export.options import check_seed

    try:
        return int(check_seed(int(text)) or 0)
    except (ValueError, ConfigError):
        raise argparse.ArgumentTypeError(f"a seed is an integer from 0 to 2**64 - 1, got {text[:40]!r}") from None


def add_seed(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """``--seed N``: the seed of random weights (None when absent: the preparation's default applies)."""
    from recalib.export.options import PrepareOptions

    parser.add_argument("--seed", type=seed_value, default=None,
                        help=help or f"seed of random weights (default {PrepareOptions.seed}; checkpoints keep theirs)")


def add_runtime(parser: argparse.ArgumentParser, default: str, what: str = "") -> None:
    """``--runtime R[@DEVICE],...`` (None when absent: the caller's ``default`` applies)."""
    parser.add_argument("--runtime", action="extend", type=comma_list(), default=None, metavar="R[@DEVICE],...",
                        help=f"runtimes {what}as `recalib doctor` lists them (ort-cpu, torch-eager, …); @cuda puts "
                             f"a torch runtime on the GPU; comma-separated or repeated (default: {default})")


def add_timing(parser: argparse.ArgumentParser, **defaults: str) -> None:
    """``--runtime``, ``--batch``, ``--iters`` or ``--duration``, ``--warmup``, ``--threads``, ``--repeat``;
    ``defaults`` describes each flag's default in its help (the values themselves are None: the
    caller's default applies)."""
    add_runtime(parser, defaults["runtime"])
    parser.add_argument("--batch", action="extend", type=comma_list(int, "integers"), default=None,
                        metavar="B,...", help=f"batch sizes to time (default: {defaults['batch']})")
    rounds = parser.add_mutually_exclusive_group()
    rounds.add_argument("--iters", type=int, default=None, help=f"timed rounds (default: {defaults['iters']})")
    rounds.add_argument("--duration", type=float, default=None, metavar="SECONDS",
                        help="time rounds for this many seconds per batch and runtime instead of --iters "
                             "(like trtexec --duration)")
    parser.add_argument("--warmup", type=int, default=None,
                        help=f"untimed rounds first (default: {defaults['warmup']})")
    parser.add_argument("--threads", type=int, default=None,
                        help=f"CPU threads of each timed model (default: {defaults['threads']})")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="time each runtime in N fresh worker processes, taken in turn over the run, and "
                             "report each run's overhead beside the pooled interval (default: 1)")


def add_tolerance(parser: argparse.ArgumentParser, truth: str = "the float64 PyTorch model",
                  yardstick: str = "PyTorch is in the same precision (float32, or --precision's)") -> None:
    """``--tolerance`` (None when absent: the option record's default), the parity bound's floor against ``truth``."""
    from recalib.export.options import DEFAULT_TOLERANCE

    parser.add_argument("--tolerance", type=float, default=None,
                        help=f"parity: largest error allowed relative to the largest output of {truth} "
                             f"(default {DEFAULT_TOLERANCE:g}); a runtime also passes when it is no further from "
                             f"float64 than 2x {yardstick}")


def add_target(parser: argparse.ArgumentParser | argparse._MutuallyExclusiveGroup, default: str) -> None:
    """``--target`` (None when absent: ``default`` applies), the runtime the exact rewrites are for."""
    from recalib.export.rewrites import TARGETS

    parser.add_argument("--target", choices=TARGETS, default=None,
                        help=f"optimise ONNX graphs for this runtime's executed graph with export.optimize's exact "
                             f"rewrites (onnxruntime also suits TensorRT); default: {default}")


def add_verification(parser: argparse.ArgumentParser, optimize_help: str, target_default: str) -> None:
    """``--tolerance``, and ``--target`` or ``--no-optimize``: how exports are made and verified.

    ``args.target`` is None unless given; :func:`recalib.cli._specs.optimize_choice` reads both.
    """
    add_tolerance(parser)
    form = parser.add_mutually_exclusive_group()
    add_target(form, target_default)
    form.add_argument("--no-optimize", action="store_true", help=optimize_help)


def add_verify_data(parser: argparse.ArgumentParser, judged: str) -> None:
    """``--verify-data digits|FILE.npz``: verify on labelled data instead of random inputs."""
    parser.add_argument("--verify-data", default=None, metavar="digits|FILE.npz",
                        help=f"verify on labelled data instead of random inputs: {judged}. 'digits': scikit-learn's "
                             f"digits test split at the model's input size; FILE.npz: arrays 'inputs' (N, C, H, W), "
                             f"preprocessed as the model expects, and 'labels' (N,) class indices")


def add_precision(parser: argparse.ArgumentParser, what: str) -> None:
    """``--precision``, ``--calibration``, ``--calibration-method`` and ``--gates-in-float``: one meaning in every
    subcommand (``--calibration-method`` is None when absent: the record's default applies)."""
    from recalib.export.options import CALIBRATION_METHODS, DEFAULT_CALIBRATION_METHOD, DEFAULT_PRECISION, PRECISIONS
    from recalib.export.quantize.calibration import MIN_SAMPLES

    parser.add_argument("--precision", default=DEFAULT_PRECISION, choices=PRECISIONS,
                        help=f"what the runtimes compute in (default {DEFAULT_PRECISION}): bf16 on openvino-cpu where "
                             f"the CPU has native bf16, fp16 on TensorRT and the torch runtimes, int8 as a QDQ graph "
                             f"quantised from --calibration images (onnxruntime, OpenVINO, TensorRT); {what}")
    parser.add_argument("--calibration", default=None, metavar="digits|FILE.npz|random",
                        help=f"int8's calibration images (at least {MIN_SAMPLES}): 'digits' (the training split), "
                             f"FILE.npz (array 'inputs' (N, C, H, W), preprocessed as the model expects), or "
                             f"'random' (random weights only: the report warns)")
    parser.add_argument("--calibration-method", default=None, choices=CALIBRATION_METHODS,
                        help=f"int8: how activation ranges are read from the calibration images (default "
                             f"{DEFAULT_CALIBRATION_METHOD}): minmax takes each tensor's extremes, percentile its "
                             f"99.999th percentile (onnxruntime's CalibrationMethod; percentile holds every "
                             f"activation in memory while calibrating)")
    parser.add_argument("--gates-in-float", action="store_true",
                        help="int8: keep every recalibration gate (pooling, transform, squash, multiply) in float")


def output_path(text: str) -> str:
    """An argparse type: a path to write, refused when empty (``-o ""`` would mean the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("the path is empty; name the file to write, e.g. -o result.json")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # bytes that are not UTF-8 arrive as surrogates; ONNX and JSON tools refuse them
        raise argparse.ArgumentTypeError(f"the path {ascii(text)[:120]} is not valid UTF-8; name the file in "
                                         f"UTF-8") from None
    return text


def add_output(parser: argparse.ArgumentParser, what: str, required: bool = False) -> None:
    """``-o/--output PATH``, ``--force`` and ``--json``."""
    parser.add_argument("-o", "--output", required=required, default=None, type=output_path, metavar="PATH",
                        help=what)
    parser.add_argument("--force", action="store_true",
                        help="replace an existing output file (never one of the command's inputs)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
