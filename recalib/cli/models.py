"""``recalib models``: every registered architecture, or (``--paper P``) every table row of a paper.

Without ``--paper`` it lists the backbones with their parameter counts. With ``--paper P``
it lists P's paper configurations (:mod:`recalib.paper_configs`): the name that builds the row,
the row, every option spelled out, the insertion points and blocks as built, and the
parameter count beside the figures the paper prints; then the rows that cannot be built.
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from recalib.paper_configs import PaperConfig
    from recalib.record import ModelRecord

_Shape = tuple[list[str], int]  # a network's block descriptions and parameter count


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("models", help="list every backbone, or a paper's table rows, with parameter counts",
                              description="List every registered architecture, its paper, nominal input size and "
                                          "parameter count (optionally with a block); with --paper, every network of "
                                          "that paper's parameter/FLOP tables by the name that builds it.")
    p.add_argument("--block", default=None, metavar="BLOCK[:K=V,...]",
                   help="count parameters with this block inserted, e.g. ms-sar:scales=(1,2)")
    p.add_argument("--paper", default=None, metavar="P",
                   help="list the paper configurations of P (ms-sar, gather-excite, competitive-se, "
                        "contextual-convolution, squeeze-excitation; 'all' for every paper)")
    p.add_argument("--json", action="store_true", help="print machine-readable JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.paper is not None:
        return _run_papers(args)
    import json

    from recalib.errors import ConfigError
    from recalib.models import create_model
    from recalib.models import MODELS
    from recalib.spec import parse_block

    block, options = parse_block(args.block) if args.block else (None, {})
    rows = []
    for entry in MODELS:
        row: dict[str, Any] = {"name": entry.name, "paper": entry.paper, "input_size": list(entry.input_size),
                               "params": None, "summary": entry.summary}
        try:
            model = create_model(entry.name, block, **options)
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


def _run_papers(args: argparse.Namespace) -> int:
    import json

    from recalib.errors import ConfigError
    from recalib.paper_configs import list_paper_configs, load_paper, paper_names

    if args.block is not None:
        raise ConfigError("--block and --paper do not combine: a paper configuration names its own block; "
                          "drop --block")
    papers = paper_names() if args.paper == "all" else [args.paper]
    shapes: dict[ModelRecord, _Shape] = {}  # papers share baselines: 101 configurations, 79 networks
    entries = [_config_entry(config, shapes) for paper in papers for config in list_paper_configs(paper)]
    unbuildable: list[dict[str, Any]] = [
        {"paper": r.paper, "table": r.table, "row": r.row, "reason": r.reason,
         "figures": {m: str(f) for m, f in r.figures.items()}}
        for paper in papers for r in load_paper(paper).unbuildable]
    if args.json:
        print(json.dumps({"configs": entries, "not_buildable": unbuildable}, indent=2))
        return 0
    for entry in entries:
        print("\n".join(_config_lines(entry)))
    for row in unbuildable:
        figures = ", ".join(f"{m} {f}" for m, f in row["figures"].items())
        print(f"not buildable: {row['paper']}, {row['table']}, {row['row']} ({figures}): {row['reason']}")
    return 0


def _shape(config: PaperConfig) -> _Shape:
    """The descriptions of the blocks of ``config``'s network and its parameter count, from a build on the
    meta device (shapes only: no weights drawn, no memory)."""
    from recalib.profiling.claims.measure import block_groups

    model = config.record.create_on_meta(config.name)
    return [g.describe() for g in block_groups(model)], sum(p.numel() for p in model.parameters())


def _config_entry(config: PaperConfig, shapes: dict[ModelRecord, _Shape]) -> dict[str, Any]:
    """Everything shown about one configuration; its network is built once per record (``shapes``)."""
    from recalib.models import arch_entry

    record = config.record
    if record not in shapes:
        shapes[record] = _shape(config)
    blocks, params = shapes[record]
    return {"name": config.name, "table": config.table, "row": config.row, "arch": record.arch,
            "summary": arch_entry(record.arch).summary,
            "block": record.block, "options": dict(record.options),
            "stages": None if record.stages is None else list(record.stages), "input_size": list(config.input_size),
            "insertion": config.insertion or None, "baseline": config.baseline,
            "blocks": blocks, "params": params,
            "paper_figures": {m: str(f) for m, f in config.figures.items()},
            "fitted": [{"option": f.option, "value": f.value, "text_value": f.text_value, "why": f.why}
                       for f in config.fitted], "notes": list(config.notes)}


def _config_lines(entry: dict[str, Any]) -> list[str]:
    options = ", ".join(f"{k}={v}" for k, v in entry["options"].items())
    build = f"{entry['arch']} ({entry['summary']})" + (f" + {entry['block']}" if entry["block"] else "")
    stages = "" if entry["stages"] is None else f"; stages {entry['stages']}"
    figures = ", ".join(f"{m} {f}" for m, f in entry["paper_figures"].items())
    lines = [f"{entry['name']}  ({entry['table']}, {entry['row']})",
             f"    {build}: {options}{stages}",
             f"    params {entry['params']:,}; printed: {figures}"]
    if entry["block"]:
        lines.append(f"    {entry['block']} {entry['insertion'] or 'at the paper insertion points'}: "
                     + "; ".join(entry["blocks"]))
    lines += [f"    {f['option']}={f['value']} was chosen to match figures ({f['why']}); the text says "
              f"{f['option']}={f['text_value']}" for f in entry["fitted"]]
    return lines
