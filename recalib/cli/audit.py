"""``recalib audit``: the report reviewers read (today: the claims audit; latency plugs in later)."""
from __future__ import annotations

import argparse

SECTIONS = ("claims",)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "audit", help="audit the papers' parameter/FLOP claims and write a report folder",
        description="Build every model the papers report, count it under each named convention, "
                    "and mark each claim reproduced, explained or unexplained. Writes report.md, "
                    "report.json and CSVs.")
    p.add_argument("-o", "--output", default="recalib-report", metavar="DIR",
                   help="report folder (default: %(default)s)")
    p.add_argument("--quick", action="store_true",
                   help="a small subset (CIFAR nets and ResNet-50) that finishes in well under a minute")
    p.add_argument("--papers", default=None, metavar="P1,P2",
                   help="only these papers' claims (names of profiling/claims/*.json)")
    p.add_argument("--claims", action="store_true",
                   help="run the claims section (with no section flag, every section runs)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (default: %(default)s; tracing is dominated by per-op overhead, "
                        "so more threads rarely help and slow down a busy machine)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from profiling.claims_audit import audit_claims
    from profiling.claims_report import ClaimsSection
    from profiling.report import write_report
    from recalib.errors import ConfigError

    if args.threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    chosen = [s for s in SECTIONS if getattr(args, s)] or list(SECTIONS)
    papers = [p.strip() for p in args.papers.split(",") if p.strip()] if args.papers else None
    sections = []
    if "claims" in chosen:
        audit = audit_claims(papers, quick=args.quick, progress=not args.no_progress)
        sections.append(ClaimsSection(audit))
    files = write_report(args.output, sections)
    for section in sections:
        print(section.title)
        for line in section.summary():
            print(f"  {line}")
    print(f"report: {files[0]}")
    return 0
