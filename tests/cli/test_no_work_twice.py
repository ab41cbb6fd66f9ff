"""The main paths do each piece of work once: builds, copies, folds, float64 twins, ONNX parses, checks.

Each function that does such work is wrapped with a counter wherever it is referenced, the
timing worker runs in this process (so its work is counted too), and each command's counts are
asserted exactly: a second fold or parse that creeps back in fails here.
"""
from __future__ import annotations

import copy
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
from torch import nn

from cli_testing import FAST, SMALL
from recalib.cli.main import main

Counts = Callable[[list[str]], Counter]


def _count_everywhere(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, counts: Counter, key: str) -> None:
    """Count calls of ``owner.name`` through every module that holds a reference to it."""
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        counts[key] += 1
        return original(*args, **kwargs)

    for module in list(sys.modules.values()):
        if module is not None and getattr(module, name, None) is original:
            monkeypatch.setattr(module, name, counted)
    monkeypatch.setattr(owner, name, counted)


def _count_copies(monkeypatch: pytest.MonkeyPatch, counts: Counter) -> None:
    """Deep copies of whole modules, and modules converted to float64 (``double()`` or ``to(float64)``)."""
    deepcopy, double, to = copy.deepcopy, nn.Module.double, nn.Module.to

    def counted_deepcopy(value: Any, memo: dict | None = None, *rest: Any) -> Any:
        if memo is None and isinstance(value, nn.Module):
            counts["deep copies"] += 1
        return deepcopy(value, memo, *rest)

    def counted_double(self: nn.Module) -> nn.Module:
        counts["float64 copies"] += 1
        return double(self)

    def counted_to(self: nn.Module, *args: Any, **kwargs: Any) -> nn.Module:
        if torch.float64 in args or kwargs.get("dtype") is torch.float64:
            counts["float64 copies"] += 1
        return to(self, *args, **kwargs)

    monkeypatch.setattr(copy, "deepcopy", counted_deepcopy)
    monkeypatch.setattr(nn.Module, "double", counted_double)
    monkeypatch.setattr(nn.Module, "to", counted_to)


@pytest.fixture
def counts(monkeypatch: pytest.MonkeyPatch) -> Counts:
    """Run a command line with every counter in place; its counts."""
    import recalib.deploy._worker as worker
    import recalib.deploy.bench as bench
    import recalib.export.onnx_export as onnx_export
    import recalib.folding as folding
    import recalib.infra.meta as meta
    import recalib.spec as spec
    # Loaded before the counters go in, so the names they import are counted (and restored) too.
    import recalib.cli._specs  # noqa: F401
    import recalib.export.export_all  # noqa: F401
    import recalib.profiling.latency.audit  # noqa: F401

    counted: Counter = Counter()
    for owner, name, key in [(meta, "meta_model", "builds (meta)"), (spec.Spec, "create", "builds"),
                             (folding, "fold_model", "folds"), (onnx, "load", "ONNX parses"),
                             (onnx_export, "check_weights", "weight checks"), (bench, "check_targets", "target checks"),
                             (spec, "parse_spec", "spec parses")]:
        _count_everywhere(monkeypatch, owner, name, counted, key)
    check_model = onnx.checker.check_model

    def counted_check(model: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(model, (str, Path)):  # the checker parses the file itself
            counted["ONNX parses"] += 1
        check_model(model, *args, **kwargs)

    monkeypatch.setattr(onnx.checker, "check_model", counted_check)
    _count_copies(monkeypatch, counted)
    monkeypatch.setattr(bench, "_run_isolated", worker.run_job)

    def run(argv: list[str]) -> Counter:
        counted.clear()
        assert main(argv) == 0
        return Counter(counted)
    return run


def test_export_builds_folds_copies_and_parses_once(counts: Counts, tmp_path: Path) -> None:
    assert counts(["export", SMALL, "--block", "se", "-o", str(tmp_path / "m.onnx")]) == {
        "spec parses": 1, "builds (meta)": 1, "builds": 1, "weight checks": 1, "folds": 1,
        "deep copies": 2, "float64 copies": 2, "ONNX parses": 1}  # copies: the fold's, the float64 truth's


def test_bench_of_a_file_reads_it_once_and_checks_the_runtime_once(counts: Counts, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    assert main(["export", SMALL, "-o", str(path)]) == 0
    assert counts(["bench", str(path), *FAST, "--json"]) == {
        "spec parses": 1, "ONNX parses": 1, "target checks": 1}


def test_latency_audit_parses_builds_and_folds_each_model_once(counts: Counts, tmp_path: Path) -> None:
    """Two models (the plain backbone and + se), each exported plain and optimised, timed on ort-cpu and
    torch-eager: one spec parse, one build, one fold and one float64 twin per model."""
    assert counts(["audit", "--sections", "latency", "--arch", SMALL, "--block", "se", "--runtime",
                   "ort-cpu,torch-eager", *FAST, "--batch", "1", "--no-progress", "-o", str(tmp_path / "r")]) == {
        "spec parses": 1, "builds (meta)": 1, "builds": 2, "weight checks": 2, "folds": 2, "float64 copies": 4,
        "deep copies": 6,  # per model: the fold's, the float64 truth's, the torch-eager runner's own
        "ONNX parses": 4}  # each of the 4 exports, checked once after writing
