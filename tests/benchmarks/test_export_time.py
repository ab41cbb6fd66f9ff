"""``benchmarks/export_time.py``: every second of an export's wall time attributed to a phase, torch's or recalib's."""
from __future__ import annotations

import json
import sys
import time
import types
from pathlib import Path

import pytest

import export_time


def _busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_a_phase_inside_another_is_taken_out_of_the_outer_ones_time_and_the_exporter_keeps_its_own() -> None:
    timer = export_time.PhaseTimer()
    with timer.phase("verification"):
        _busy(0.02)
        with timer.phase("copies"):
            _busy(0.03)
    with timer.phase(export_time.TORCH_EXPORTER):
        with timer.phase("copies"):  # the exporter's own copy: not split out of it
            _busy(0.02)
    taken = timer.take()
    assert taken["copies"]["cpu"] == pytest.approx(0.03, abs=0.01)
    assert taken["verification"]["cpu"] == pytest.approx(0.02, abs=0.01)
    assert taken[export_time.TORCH_EXPORTER]["cpu"] == pytest.approx(0.02, abs=0.01)
    assert timer.take() == {}  # taken means started again


def test_timers_go_wherever_a_module_bound_the_function_and_missing_targets_are_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    home, user = types.ModuleType("phase_home"), types.ModuleType("phase_user")
    home.work = lambda: _busy(0.02)  # type: ignore[attr-defined]
    user.work = home.work  # type: ignore[attr-defined]  # what "from phase_home import work" leaves
    monkeypatch.setitem(sys.modules, "phase_home", home)
    monkeypatch.setitem(sys.modules, "phase_user", user)
    timer = export_time.PhaseTimer()
    missing = export_time.install_timers(timer, [("work", "rest", ("phase_home:work", "phase_home:gone"))])
    user.work()  # type: ignore[attr-defined]
    assert missing == ["phase_home:gone"]
    assert timer.take()["work"]["cpu"] == pytest.approx(0.02, abs=0.01)


def test_recalib_own_time_is_its_imports_and_first_export_less_torchs_exporter_and_the_process_keeps_the_rest() -> None:
    inside = {"imports": {"import torch": {"wall": 2.0, "cpu": 1.5}, "import torch's exporter": {"wall": 1.0, "cpu": 1.0},
                          export_time.RECALIB_IMPORTS: {"wall": 0.3, "cpu": 0.2}},
              "first": {"wall": 6.0, "cpu": 5.0, "phases": {export_time.TORCH_EXPORTER: {"wall": 4.0, "cpu": 3.5}}},
              "second": {"wall": 3.0, "cpu": 2.5, "phases": {}}, "installing_timers": {"wall": 0.2, "cpu": 0.2}}
    assert export_time.recalib_own(inside) == pytest.approx({"wall": 0.3 + 6.0 - 4.0, "cpu": 0.2 + 5.0 - 3.5})
    overhead = export_time.process_overhead({"wall": 13.0, "cpu": 10.0}, inside)
    assert overhead == pytest.approx({"wall": 13.0 - 2.0 - 1.0 - 0.3 - 6.0 - 3.0, "cpu": 10.0 - 1.5 - 1.0 - 0.2 - 5.0 - 2.5})


def test_a_fresh_process_starts_outside_the_checkout_so_it_measures_the_installed_recalib() -> None:
    here = str(Path.cwd())
    run = export_time.in_fresh_process(["-c", f"import os, sys; sys.exit(os.getcwd() == {here!r})"])
    assert run["wall"] > 0 and run["cpu"] >= 0 and "load_after" in run


def test_the_page_sums_each_group_of_phases_per_export() -> None:
    phases = {export_time.TORCH_EXPORTER: {"wall": 4.0, "cpu": 3.0}, "fold": {"wall": 0.25, "cpu": 0.25},
              "structure check": {"wall": 0.5, "cpu": 0.5}, "onnxruntime runs": {"wall": 0.25, "cpu": 0.25},
              export_time.UNCLAIMED: {"wall": 1.0, "cpu": 0.5}}
    run = {"imports": {"import torch": {"wall": 2.0, "cpu": 1.5}}, "not_timed": ["recalib.x:gone"],
           "first": {"wall": 6.0, "cpu": 4.5, "phases": phases}, "second": {"wall": 6.0, "cpu": 4.5, "phases": phases},
           "process": {"wall": 15.0, "cpu": 11.0, "load_before": 0.5}, "recalib_own": {"wall": 3.0, "cpu": 2.0},
           "process_overhead": {"wall": 1.0, "cpu": 0.5}}
    page = export_time.markdown({"recorded": "2026-01-01T00:00:00+00:00", "repeat": 1, "loads": [0.5],
                                 "machine": {"cpu": "a CPU", "cores_available": 2, "packages": {}},
                                 "runs": {"recalib export m": [run]}})
    assert "| **verification** | 0.75 | 0.75 | 0.75 | 0.75 |" in page
    assert "| &nbsp;&nbsp;structure check | 0.50 | 0.50 | 0.50 | 0.50 |" in page
    assert "| **rest** | 1.00 | 0.50 | 1.00 | 0.50 |" in page
    assert "| **recalib's own** (its imports and the first export, less torch's exporter) | 3.00 | 2.00 | | |" in page
    assert "| starting and exiting Python, the benchmark's timers | 1.00 | 0.50 | | |" in page
    assert "not timed (their time is in the rest): recalib.x:gone" in page and "0.50–0.50" in page


@pytest.mark.slow
def test_a_quick_run_splits_an_export_into_phases_that_add_up_to_its_time(tmp_path: Path) -> None:
    """Fresh processes: import torch, the CLI, cifar_resnet20 exported twice, the paper listing (about a minute)."""
    assert export_time.main(["--quick", "--out", str(tmp_path), "--tag", "t"]) == 0
    [page] = tmp_path.glob("export-time-*-t.md")
    data = json.loads(page.with_suffix(".json").read_text())
    assert set(data["runs"]) == {"import torch", "recalib --help", "recalib export cifar_resnet20",
                                 "recalib models --paper all"}
    [run] = data["runs"]["recalib export cifar_resnet20"]
    assert run["not_timed"] == []
    for export in (run["first"], run["second"]):
        assert sum(p["wall"] for p in export["phases"].values()) == pytest.approx(export["wall"])
        assert export["phases"][export_time.TORCH_EXPORTER]["wall"] > 0.1
    assert 0 < run["recalib_own"]["wall"] < run["process"]["wall"] and run["process_overhead"]["wall"] > 0
    assert "| **recalib's own**" in page.read_text() and data["machine"]["cpu"]
