"""``recalib blocks``: every registered block with its paper, parameter formula, alternatives and
the defaults it takes on particular backbones."""
from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("blocks", help="list every recalibration block variant",
                              description="List every registered block with its paper, parameter formula, "
                                          "the alternative settings its paper describes, and the defaults "
                                          "recalib.create_model gives it on particular backbones.")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(handler=run)


def _options(options: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in options.items())


def _rows() -> list[dict[str, Any]]:
    from recalib.blocks import BLOCKS
    from recalib.models import MODELS
    from recalib.models.block_defaults import BLOCK_DEFAULTS

    return [{"name": b.name, "paper": b.paper, "params": b.params, "summary": b.summary,
             "takes_identity": b.takes_identity, "needs_feat_size": b.needs_feat_size, "fixed": dict(b.fixed),
             "alternatives": {label: dict(options) for label, options in b.alternatives.items()},
             "backbone_defaults": [{"options": dict(d.options), "backbones": d.backbones(MODELS), "source": d.source}
                                   for d in BLOCK_DEFAULTS if d.block == b.name]}
            for b in BLOCKS]


def run(args: argparse.Namespace) -> int:
    import json

    rows = _rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    pad = f"{'':<22} "
    for row in rows:
        flags = [f for f, on in (("forward(residual, identity)", row["takes_identity"]),
                                 ("needs feat_size", row["needs_feat_size"])) if on]
        print(f"{row['name']:<22} {row['paper']}" + (f"  [{', '.join(flags)}]" if flags else ""))
        print(f"{pad}{row['summary']}")
        print(f"{pad}params: {row['params']}")
        for label, options in row["alternatives"].items():
            print(f"{pad}also: {_options(options)}  ({label})")
        for default in row["backbone_defaults"]:
            print(f"{pad}default on {', '.join(default['backbones'])}: {_options(default['options'])}")
            print(f"{pad}  ({default['source']})")
    return 0
