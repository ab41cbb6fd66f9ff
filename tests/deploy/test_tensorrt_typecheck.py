"""The TensorRT backend cannot run here (no TensorRT, no GPU), so type-check it instead.

mypy checks ``deploy/backends/tensorrt`` against the installed ``tensorrt-stubs`` (TensorRT
10.13's Python API): a misspelt builder call or a wrong argument fails here. Two defects of the
stub package are worked around in a temporary copy, not in the checked code:

- it ships ``tensorrt/__init__.pyi`` without a ``py.typed`` marker, so mypy ignores it unless
  the stubs are on ``MYPYPATH``;
- its own typing errors are silenced (``ignore_errors`` for the stub modules only);
- five plugin/scale-layer method signatures in ``tensorrt_bindings/tensorrt.pyi`` are not valid
  Python (a parameter named ``in``, a required parameter after defaulted ones); their
  parameter lists become ``*args, **kwargs`` (this code calls none of them).
"""
from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from layout_testing import installed_layout
_CONFIG = """\
[mypy]
python_version = 3.11
follow_imports = silent
warn_unused_ignores = True
[mypy-tensorrt_libs]
ignore_missing_imports = True
[mypy-tensorrt,tensorrt.*,tensorrt_bindings,tensorrt_bindings.*]
ignore_errors = True
[mypy-torch.*]
follow_imports = skip
[mypy-onnx.*]
follow_imports = skip
[mypy-numpy.*]
follow_imports = skip
"""


def _stub_root() -> Path:
    if importlib.util.find_spec("mypy") is None:
        pytest.skip("mypy is not installed (pip install -e '.[dev]')")
    try:
        dist = metadata.distribution("tensorrt-stubs")
    except metadata.PackageNotFoundError:
        pytest.skip('tensorrt-stubs is not installed (pip install --no-deps "tensorrt-stubs==10.13.0.35.1")')
    return Path(str(dist.locate_file("")))


def _repair_signature(line: str) -> str:
    """The line itself if it parses as a def, else the def with ``(*args, **kwargs)`` parameters."""
    try:
        ast.parse(line.strip() + "\n    ...")
        return line
    except SyntaxError:
        return re.sub(r"\(.*\)(\s*->)", r"(*args: typing.Any, **kwargs: typing.Any)\1", line, count=1)


def _copy_stubs(site: Path, dest: Path) -> Path:
    for package in ("tensorrt", "tensorrt_bindings"):
        for stub in (site / package).glob("*.pyi"):
            lines = [_repair_signature(l) if l.lstrip().startswith("def ") else l
                     for l in stub.read_text().splitlines()]
            (dest / package).mkdir(parents=True, exist_ok=True)
            (dest / package / stub.name).write_text("\n".join(lines) + "\n")
    return dest


def _mypy(stubs: Path, tmp_path: Path, *targets: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "mypy.ini"
    config.write_text(_CONFIG)
    env = {"MYPYPATH": str(stubs), "PATH": "/usr/bin:/bin"}
    tree = installed_layout(tmp_path / "installed")
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(config),
                           "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", *targets],
                          cwd=tree, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _copy_stubs(_stub_root(), tmp_path_factory.mktemp("trt-stubs"))


def test_tensorrt_backend_type_checks_against_tensorrt_stubs(stubs: Path, tmp_path: Path) -> None:
    result = _mypy(stubs, tmp_path, "-p", "recalib.deploy.backends.tensorrt")
    assert result.returncode == 0, result.stdout + result.stderr


def test_type_check_catches_a_misspelt_builder_call(stubs: Path, tmp_path: Path) -> None:
    """Proves the stubs are really in effect: a wrong TensorRT call must fail the check."""
    probe = tmp_path / "probe_trt.py"
    probe.write_text("import tensorrt as trt\n"
                     "builder = trt.Builder(trt.Logger(trt.Logger.WARNING))\n"
                     "network = builder.create_netwrk(0)\n"
                     "builder.create_builder_config().set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 'big')\n")
    result = _mypy(stubs, tmp_path, str(probe))
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'has no attribute "create_netwrk"' in result.stdout
    assert "set_memory_pool_limit" in result.stdout
