"""``recalib blocks``: every registered block with its paper and parameter formula."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("blocks", help="list every recalibration block variant",
                              description="List every registered block with its paper and parameter formula.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json

    from recalib.registry import BLOCKS
    import recalib.blocks  # noqa: F401  (registers the families)

    rows = [{"name": s.name, "paper": s.paper, "params": s.params, "summary": s.summary,
             "takes_identity": s.takes_identity, "needs_feat_size": s.needs_feat_size,
             "fixed": dict(s.fixed)} for s in BLOCKS]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        flags = [f for f, on in (("forward(residual, identity)", row["takes_identity"]),
                                 ("needs feat_size", row["needs_feat_size"])) if on]
        print(f"{row['name']:<22} {row['paper']}" + (f"  [{', '.join(flags)}]" if flags else ""))
        print(f"{'':<22} {row['summary']}")
        print(f"{'':<22} params: {row['params']}")
    return 0
