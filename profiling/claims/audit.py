"""Audit every claim: measure it under every candidate, find each paper's method, give verdicts.

For each claim (:mod:`recalib.profiling.claims.papers`) the audit evaluates every candidate way of building
and counting it, with and without the block (:mod:`recalib.profiling.claims.candidates`). Per
paper, :func:`recalib.profiling.claims.method.find_method` picks the one method that explains the
most figures; :func:`recalib.profiling.claims.verdicts.judge` then gives each claim its verdict
and the block's own cost under that method, and
:func:`recalib.profiling.claims.derivation.derive` shows the work.

Models are never adjusted to hit a number: every candidate is a documented convention or
reading, every one tried is reported, and an unexplained figure is an honest result.
"""
from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from recalib.profiling.claims.block_cost import BLOCK_COST
from recalib.profiling.claims.papers import Claim, PaperClaims, load_papers
from recalib.profiling.claims.candidates import Candidate, Outcome, candidates, evaluate, networks, total
from recalib.profiling.claims.derivation import derive
from recalib.profiling.claims.method import Method, find_method
from recalib.profiling.claims.verdicts import VERDICTS, ClaimResult, judge
from recalib.profiling.counting.conventions import READINGS
from recalib.profiling.claims.measure import Measurer
from recalib.record import ModelRecord

__all__ = ["ClaimsAudit", "audit_claims", "resnet50_layouts", "QUICK_ARCHS", "VERDICTS"]


@dataclass
class ClaimsAudit:
    """Every paper's method and every claim's verdict."""

    papers: list[PaperClaims]
    methods: dict[str, Method]
    results: list[ClaimResult]
    layouts: dict[str, float]
    seconds: float
    models_measured: int
    unsupported: Counter = field(default_factory=Counter)

    def counts(self, paper: str | None = None) -> dict[str, int]:
        """How many distinct figures (of ``paper``, or of all) got each verdict."""
        chosen = [r for r in self.results if paper is None or r.claim.paper == paper]
        return {v: sum(r.verdict == v for r in chosen) for v in VERDICTS}

    def block_counts(self, paper: str | None = None) -> dict[str, int]:
        """How many figures on a block (of ``paper``, or of all) got each verdict on the block's own cost."""
        chosen = [r.block_cost for r in self.results if paper is None or r.claim.paper == paper]
        return {v: sum(c is not None and c.verdict == v for c in chosen) for v in BLOCK_COST}

    def of(self, paper: str) -> list[ClaimResult]:
        return [r for r in self.results if r.claim.paper == paper]


#: Architectures of the ``quick`` subset (small CIFAR nets); plain ResNet-50 is added as the headline.
QUICK_ARCHS = frozenset({"cifar_resnet20", "preact_resnet110", "preact_resnet164", "cc_vgg_cifar100"})


def _records(claim: Claim) -> set[ModelRecord]:
    """Every network some candidate of ``claim`` counts (enumerating candidates builds nothing)."""
    return {record for cand in candidates(claim) for record in vars(networks(claim, cand)).values()
            if record is not None}


def _quick(claim: Claim) -> bool:
    return all(b.arch in QUICK_ARCHS or (b.arch == "resnet50" and b.block is None) for b in _records(claim))


def _traced(claims: list[Claim]) -> set[ModelRecord]:
    """The networks some FLOP claim will trace."""
    return {record for c in claims if c.metric == "flops" for record in _records(c)}


def resnet50_layouts(measurer: Measurer) -> dict[str, float]:
    """ResNet-50 multiply-adds (G) in the torchvision and the Caffe layout: the headline check."""
    return {name: (total(ModelRecord("resnet50", options=READINGS[name].options), "mac", measurer) or 0.0) / 1e9
            for name in ("default", "caffe-layout")}


def _outcomes(claims: list[Claim], measurer: Measurer,
              progress: bool) -> Iterator[tuple[Claim, dict[Candidate, Outcome]]]:
    from recalib.infra.progress import progress_bar

    for claim in progress_bar(claims, show=progress, desc="auditing claims", unit="claim"):
        yield claim, {cand: evaluate(claim, cand, measurer) for cand in candidates(claim)}


def _judge_paper(claims: list[Claim], outcomes: Mapping[str, dict[Candidate, Outcome]],
                 measurer: Measurer) -> tuple[Method, list[ClaimResult]]:
    method = find_method(claims, outcomes)
    results = []
    for claim in claims:
        tried = list(outcomes[claim.id].values())
        result = judge(claim, tried, outcomes[claim.id].get(method.candidate(claim)))
        result.derivation = derive(claim, result.decided_by or result.measured, measurer)
        results.append(result)
    return method, results


def audit_claims(papers: list[str] | None = None, quick: bool = False, progress: bool = False,
                 metrics: tuple[str, ...] = ("params", "flops"), measurer: Measurer | None = None) -> ClaimsAudit:
    """Load the claims of ``papers`` (default: all), measure and judge each one.

    ``quick`` keeps only claims on :data:`QUICK_ARCHS`, ``metrics`` only claims of those metrics;
    ``progress`` shows a bar on a terminal; a ``measurer`` given keeps its measurements for later audits.
    """
    start = time.perf_counter()
    loaded = [replace(p, claims=tuple(c for c in p.claims if c.metric in metrics and (not quick or _quick(c))))
              for p in load_papers(papers)]
    every = [c for p in loaded for c in p.claims]
    measurer = measurer if measurer is not None else Measurer()
    measurer.trace(_traced(every))
    outcomes = {claim.id + "\0" + claim.paper: found for claim, found in _outcomes(every, measurer, progress)}
    methods, results = {}, []
    for paper in loaded:
        mine = {c.id: outcomes[c.id + "\0" + c.paper] for c in paper.claims}
        if paper.claims:
            methods[paper.paper], judged = _judge_paper(list(paper.claims), mine, measurer)
            results += judged
    layouts = resnet50_layouts(measurer)
    return ClaimsAudit(loaded, methods, results, layouts, time.perf_counter() - start, len(measurer),
                       measurer.unsupported())
