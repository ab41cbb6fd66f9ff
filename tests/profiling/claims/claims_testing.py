"""Judging a figure again for the network without its block, measured afresh: the block-removal tests' yardstick."""
from __future__ import annotations

from dataclasses import replace

from recalib.models import arch_entry
from recalib.profiling.claims.audit import ClaimsAudit
from recalib.profiling.claims.candidates import candidates, evaluate
from recalib.profiling.claims.measure import Measurer
from recalib.profiling.claims.papers import Claim
from recalib.profiling.claims.verdicts import ClaimResult, judge

def without_block(claim: Claim) -> Claim:
    """The same figure claimed of the network with the block removed: a claim on no block."""
    plain = claim.removed if claim.relative is None else claim.build.without_block()
    assert plain is not None and plain.block is None
    accepted = arch_entry(plain.arch).option_names()
    readings = tuple(replace(r, block=None, options={k: v for k, v in r.options.items() if k in accepted})
                     for r in claim.readings)
    return replace(claim, build=plain, removed=None, implied=None, readings=readings)


def judge_without_block(audit: ClaimsAudit, result: ClaimResult, measurer: Measurer) -> ClaimResult:
    """The verdict on ``result``'s figure claimed of the network without the block, under the same method.

    The claim is rebuilt on the plain network (the readings keep their backbone options only),
    every candidate evaluated for it, and the verdict given by the same :func:`judge`.
    """
    claim = without_block(result.claim)
    tried = [evaluate(claim, candidate, measurer) for candidate in candidates(claim)]
    wanted = audit.methods[claim.paper].candidate(claim)
    return judge(claim, tried, next((o for o in tried if o.candidate == wanted), None))
