"""``recalib doctor``: the machine and the runtime matrix, as text or JSON."""
from __future__ import annotations

import json

import pytest

from recalib.deploy.availability import BACKENDS
from recalib.cli.main import main


def test_doctor_shows_the_machine_and_the_backend_matrix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in report["backends"]] == list(BACKENDS)
    assert report["cores_available"] >= 1 and report["packages"]["torch"]
    assert main(["doctor"]) == 0
    text = capsys.readouterr().out
    assert "backend torch-eager   available" in text and "cores available" in text
