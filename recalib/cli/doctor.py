"""``recalib doctor``: what is installed and which runtimes can run here."""
from __future__ import annotations

import argparse

_PACKAGES = ("torch", "onnx", "onnxscript", "onnxruntime", "onnxruntime-gpu", "fvcore", "tensorrt")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("doctor", help="show versions, GPU and runtime availability",
                              description="Show package versions, whether a GPU and TensorRT are "
                                          "present, and which runtime backends can run here.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(handler=run)


def package_versions() -> dict[str, str | None]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def run(args: argparse.Namespace) -> int:
    import json
    import platform

    report = {"python": platform.python_version(), "platform": platform.platform(),
              "packages": package_versions(), "gpu": gpu_name()}
    try:
        from deploy.availability import backend_matrix
    except ModuleNotFoundError:
        backend_matrix = None
    if backend_matrix is not None:
        report["backends"] = backend_matrix()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"python      {report['python']}  ({report['platform']})")
    for name, version in report["packages"].items():
        print(f"{name:<16}{version or 'not installed'}")
    print(f"{'GPU':<16}{report['gpu'] or 'none (torch sees no CUDA device)'}")
    for row in report.get("backends", []):
        status = "available" if row["available"] else f"unavailable: {row['reason']} -> {row['hint']}"
        print(f"backend {row['name']:<14}{status}")
    return 0
