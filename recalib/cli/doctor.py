"""``recalib doctor``: what is installed and which runtimes can run here."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("doctor", help="show versions, GPU and runtime availability",
                              description="Show package versions, whether a GPU and TensorRT are "
                                          "present, and which runtime backends can run here.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from recalib.deploy.availability import backend_matrix
    from recalib.deploy.machine_info import collect

    machine, backends = collect(), backend_matrix()
    if args.json:
        print(json.dumps({**machine.to_dict(), "backends": backends}, indent=2))
        return 0
    print(f"{'python':<16}{machine.python}  ({machine.os})")
    print(f"{'cpu':<16}{machine.cpu}, {machine.cores_available} cores available")
    for name, version in machine.packages.items():
        print(f"{name:<16}{version or 'not installed'}")
    gpu = machine.gpu
    seen = f"{gpu['name']} (compute {gpu['compute_capability']})" if gpu else "none (torch sees no CUDA device)"
    print(f"{'GPU':<16}{seen}")
    for row in backends:
        status = "available" if row["available"] else f"unavailable: {row['reason']} -> {row['hint']}"
        print(f"backend {row['name']:<14}{status}")
    return 0
