"""``recalib profile``: parameters and FLOPs of one model, the recalibration share block by block."""
from __future__ import annotations

import argparse
from typing import Any

from recalib.cli._args import add_input_size


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "profile", help="count parameters and FLOPs of a model, block by block",
        description="Trace a library model once with fvcore (every op counted) and print its "
                    "parameters and FLOPs under a named convention, the share spent in "
                    "recalibration blocks, and the totals under every convention.")
    p.add_argument("arch", help="architecture name (see `recalib models`)")
    p.add_argument("--block", default=None, help="recalibration block to insert (see `recalib blocks`)")
    p.add_argument("--convention", default=None, metavar="NAME",
                   help="counting convention or paper preset (mac, flop, mac-all, se-ge-paper, …); "
                        "default: mac for FLOPs, params for parameters")
    add_input_size(p)
    p.add_argument("--stages", default=None, metavar="1,2", help="insert the block in these stages only")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="model or block option, e.g. reduction=8 or stride_in_1x1=true (repeatable)")
    p.add_argument("--crosscheck", action="store_true",
                   help="also compare the multiply-add core with torch.utils.flop_counter")
    p.add_argument("--json", default=None, metavar="PATH", help="also write the profile as JSON")
    p.set_defaults(handler=run)


def _parse_value(text: str) -> Any:
    """``8`` → 8, ``true`` → True, ``1,2,4`` → [1, 2, 4], ``0.5`` → 0.5, else the string."""
    import json
    if "," in text:
        return [_parse_value(part) for part in text.split(",")]
    try:
        return json.loads(text.lower() if text.lower() in ("true", "false", "null") else text)
    except json.JSONDecodeError:
        return text


def _options(pairs: list[str]) -> dict[str, Any]:
    from recalib.errors import ConfigError
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option expects KEY=VALUE, got {pair!r} (e.g. --option reduction=8)")
        options[key.strip()] = _parse_value(value.strip())
    return options


def run(args: argparse.Namespace) -> int:
    from profiling.model_profile import profile_model
    from profiling.model_profile_text import render
    from profiling.report import write_atomic
    from recalib.errors import ConfigError

    options = _options(args.option)
    if args.input_size is not None:
        options["input_size"] = tuple(args.input_size)
    try:
        stages = [int(s) for s in args.stages.split(",")] if args.stages else None
    except ValueError:
        raise ConfigError(f"--stages expects comma-separated stage numbers such as 1,2; got {args.stages!r}") from None
    result = profile_model(args.arch, args.block, convention=args.convention, stages=stages,
                           options=options, check=args.crosscheck)
    print(render(result))
    if args.json:
        import json
        from pathlib import Path
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(result.to_json(), indent=2) + "\n")
        print(f"json: {path}")
    return 0
