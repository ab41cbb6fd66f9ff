"""``recalib models``: every registered architecture with its parameter count."""
from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list every backbone with its parameter count",
                              description="List every registered architecture, its paper, nominal "
                                          "input size and parameter count (optionally with a block).")
    p.add_argument("--block", default=None, metavar="BLOCK[:K=V,...]",
                   help="count parameters with this block inserted, e.g. ms-sar:scales=(1,2)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from recalib.errors import ConfigError
    from recalib.models import create_model
    from recalib.registry import MODELS
    from recalib.spec import parse_block

    block, options = parse_block(args.block) if args.block else (None, {})
    rows = []
    for spec in MODELS:
        row: dict[str, Any] = {"name": spec.name, "paper": spec.paper, "input_size": list(spec.input_size),
               "params": None, "summary": spec.summary}
        try:
            model = create_model(spec.name, block, **options)
        except ConfigError as exc:  # e.g. r=16 on DenseNet's 12 new channels: report, keep listing
            row["summary"] = f"cannot take block {args.block!r}: {exc}"
        else:
            row["params"] = sum(p.numel() for p in model.parameters())
        rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        size = "x".join(map(str, row["input_size"]))
        params = "n/a" if row["params"] is None else f"{row['params']:,}"
        print(f"{row['name']:<24} {params:>12}  {size:>7}  {row['summary']}")
    return 0
