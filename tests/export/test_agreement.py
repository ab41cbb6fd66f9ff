"""Verifying an export on labelled data: parity on the data, and each runtime's decisions beside PyTorch's."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from recalib import export
from recalib.deploy.availability import unavailable_reason
from recalib.deploy.runner import opener
from recalib.deploy.runner_options import RunnerOptions
from recalib.export.agreement import compare_predictions, run_batched
from recalib.export.labelled import LabelledData
from recalib.export.options import ExportOptions, Verification
from recalib.export.verify import open_runtimes
from export_helpers import Host
from recalib.errors import DataError, VerificationError

CHW = (3, 8, 8)


def classifier(classes: int = 10) -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, classes)).eval()


@pytest.fixture
def data() -> LabelledData:
    rng = np.random.default_rng(0)
    return LabelledData("ten images", rng.standard_normal((10, *CHW), dtype=np.float32), rng.integers(0, 10, 10))


def test_decisions_are_compared_with_their_margins() -> None:
    pytorch = np.array([[2.0, 1.0, 0.0], [0.0, 1.0, 1.05], [5.0, 0.0, 0.0]])
    runtime = np.array([[2.0, 1.0, 0.0], [0.0, 1.2, 1.0], [0.0, 5.0, 0.0]])
    check = compare_predictions(pytorch, runtime, np.array([0, 2, 1]), runtime="rt", data="d", max_logit_error=5.0)
    assert (check.samples, check.agreed, check.pytorch_correct, check.runtime_correct) == (3, 1, 2, 2)
    assert check.closest_margin == pytest.approx(0.05)
    first, second = check.disagreements
    assert (first.index, first.label, first.pytorch_class, first.runtime_class) == (1, 2, 2, 1)
    assert first.pytorch_margin == pytest.approx(0.05) and first.runtime_margin == pytest.approx(0.2)
    assert (second.index, second.pytorch_margin, second.runtime_margin) == (2, 5.0, 5.0)
    assert "top-1 agreement 1/3 (33.33%)" in check.describe()
    assert "sample 1 (label 2): PyTorch 2 by 5.0e-02, rt 1 by 2.0e-01" in check.describe()


def test_a_fixed_batch_runtime_gets_exactly_its_batch() -> None:
    seen = []

    def run(x: np.ndarray) -> list[np.ndarray]:
        seen.append(len(x))
        return [x.sum(axis=(1, 2, 3))[:, None]]

    x = np.random.default_rng(0).standard_normal((10, *CHW))
    (out,) = run_batched(run, x, batch=4)
    assert seen == [4, 4, 4]
    np.testing.assert_allclose(out[:, 0], x.sum(axis=(1, 2, 3)))


def test_an_export_verified_on_data_reports_parity_and_agreement(data, tmp_path) -> None:
    model = classifier()
    report = export.to_onnx(model, CHW, tmp_path / "m.onnx", ExportOptions(verification=Verification(data)))
    (parity,) = report.parity
    (agreement,) = report.agreement
    assert parity.shape == (10, *CHW) and parity.passed and report.verified_on == "ten images"
    with torch.no_grad():
        predicted = model(torch.from_numpy(data.inputs)).argmax(1).numpy()
    assert agreement.agreed == 10 and agreement.pytorch_correct == int((predicted == data.labels).sum())
    assert agreement.max_logit_error == parity.max_abs
    saved = json.loads((tmp_path / "m.report.json").read_text())
    assert saved["agreement"][0]["agreed"] == 10 and saved["verified_on"] == "ten images"
    assert "agreement: onnxruntime on ten images: top-1 agreement 10/10 (100.00%)" in report.summary()


def test_a_fixed_batch_export_is_verified_on_data_in_its_batches(data, tmp_path) -> None:
    report = export.to_onnx(classifier(), CHW, tmp_path / "m.onnx",
                            ExportOptions(fixed_batch=4, verification=Verification(data)))
    assert report.agreement[0].agreed == 10 and report.input_dims == [4, *CHW]


@pytest.mark.skipif(unavailable_reason("openvino-cpu") is not None, reason="openvino is not installed")
def test_an_export_is_verified_on_every_runtime_named(data, tmp_path) -> None:
    one = RunnerOptions(threads=1)
    runtimes = {"ort-cpu": opener("ort-cpu", one), "openvino-cpu": opener("openvino-cpu", one)}
    report = export.to_onnx(classifier(), CHW, tmp_path / "m.onnx", ExportOptions(verification=Verification(data, runtimes)))
    assert [a.runtime for a in report.agreement] == ["ort-cpu", "openvino-cpu"]
    assert [p.runtime for p in report.parity] == ["ort-cpu", "openvino-cpu"]
    assert all(a.agreed == 10 for a in report.agreement)


def test_a_runtime_that_changes_a_decision_fails_and_writes_nothing(data, tmp_path) -> None:
    def flipping(path):
        run = open_runtimes(path)["onnxruntime"]

        def flipped(x: np.ndarray) -> list[np.ndarray]:
            (out,) = run(x)
            out = out.copy()
            out[0] = out[0].max() + out[0].min() - out[0]  # the top class becomes the bottom one
            return [out]
        return flipped

    with pytest.raises(VerificationError, match="top-1 agreement 9/10 on ten images"):
        export.to_onnx(classifier(), CHW, tmp_path / "m.onnx",
                       ExportOptions(verification=Verification(data, {"broken": flipping})))
    assert list(tmp_path.iterdir()) == []


def test_labels_the_model_cannot_output_fail_before_the_export(data, tmp_path) -> None:
    with pytest.raises(DataError, match="the model has 5 outputs"):
        export.to_onnx(classifier(5), CHW, tmp_path / "m.onnx", ExportOptions(verification=Verification(data)))
    assert list(tmp_path.iterdir()) == []


def test_a_model_that_is_not_a_classifier_cannot_be_verified_on_labels(data, tmp_path) -> None:
    with pytest.raises(DataError, match="needs a classifier with one \\(N, classes\\) output"):
        export.to_onnx(Host("se", size=(8, 8)).eval(), CHW, tmp_path / "m.onnx",
                       ExportOptions(verification=Verification(data)))
