"""Show the work behind a verdict: the network actually built and how its count adds up.

For each claim the report prints the row's configuration (widths and blocks as built,
reduction and hidden width, insertion points, head, input size, layout, readings applied) and
a derivation under the candidate that decided it: the counted categories, and for a network
with a block the backbone part plus the block part, with the block's parameter formula
evaluated at every insertion point.
"""
from __future__ import annotations

from collections import Counter

from recalib.profiling.claims.papers import Claim
from recalib.profiling.claims.candidates import Outcome, networks, total
from recalib.profiling.counting.conventions import Convention, get_convention
from recalib.profiling.claims.measure import Measurer
from recalib.profiling.counting.scopes import scoped
from recalib.models import arch_entry
from recalib.paper_configs import get_paper_config
from recalib.blocks import BLOCKS
from recalib.record import ModelRecord

__all__ = ["derive", "configuration"]


def _si(value: float, scale: float, unit: str) -> str:
    """``value`` (raw count) in the claim's unit: ``3,857.97 M`` / ``25,557,032``."""
    if not unit or unit == "%":
        return f"{value:,.0f}"
    return f"{value / scale:,.4g} {unit}" if abs(value / scale) < 10 else f"{value / scale:,.2f} {unit}"


def _terms(counts: Counter, conv: Convention, scale: float, unit: str, scope: str | None = None) -> str:
    """The weighted categories a convention counts: ``conv 2.51 M + eltwise 5.52 M − transitions.conv 35.4 M``."""
    source = scoped(counts, scope) if scope else Counter({k: n for k, n in counts.items() if "." not in k})
    parts = []
    for category, n in sorted(source.items()):
        weight = conv.weights.get(category, 0.0) + (conv.weights.get(f"{scope}.{category}", 0.0) if scope else 0.0)
        if weight and n:
            parts.append((category, weight * n))
    if scope is None:
        parts += [(key, conv.weights[key] * n) for key, n in sorted(counts.items())
                  if "." in key and conv.weights.get(key) and n]
    if not parts:
        return "nothing counted"
    text = f"{parts[0][0]} {_si(parts[0][1], scale, unit)}"
    for name, value in parts[1:]:
        text += f" {'−' if value < 0 else '+'} {name} {_si(abs(value), scale, unit)}"
    return text


def configuration(claim: Claim, build: ModelRecord, measurer: Measurer) -> str:
    """The network as built: configuration row(s), options, blocks at every insertion point."""
    config = get_paper_config(claim.configs[0])
    options = ", ".join(f"{k}={v}" for k, v in sorted(build.options.items()))
    text = f"`{build.arch}` ({arch_entry(build.arch).summary}; {options})"
    if build.block:
        groups = measurer.get(build).blocks
        count = sum(g.count for g in groups)
        text += (f"; `{build.block}` {config.insertion or 'at the paper insertion points'}"
                 + (f", stages {list(build.stages)}" if build.stages else "")
                 + f": {count} blocks, " + "; ".join(g.describe() for g in groups))
    return text


def derive(claim: Claim, outcome: Outcome, measurer: Measurer) -> tuple[str, ...]:
    """Configuration and derivation lines for ``claim`` under ``outcome``'s candidate."""
    nets = networks(claim, outcome.candidate)
    build, other = nets.build, nets.baseline
    readings = outcome.candidate.readings
    lines = [configuration(claim, build, measurer) + (f"; read as {', '.join(readings)}" if readings else "")]
    if outcome.value is None:
        return tuple(lines)
    conv = get_convention(outcome.candidate.convention)
    scale, unit = claim.figure.scale, claim.figure.unit
    measured = measurer.get(build, flops=conv.metric == "flops")
    counts = (measured.flops if conv.metric == "flops" else measured.params) or Counter()
    whole = conv.apply(counts)
    if claim.relative is not None and other is not None:
        base = total(other, conv.name, measurer) or 0.0
        shown = claim.figure.scale if claim.relative == "difference" else (1e9 if claim.metric == "flops" else 1e6)
        suffix = "" if claim.relative == "difference" else (" G" if claim.metric == "flops" else " M")
        plain = "" if outcome.removed is None else f"; without the block {outcome.removed:.4g}{claim.figure.unit or ''}"
        lines.append(f"{conv.name}: {whole / shown:,.6g}{suffix} vs `{other.describe()}` "
                     f"{base / shown:,.6g}{suffix} → {outcome.value:.4g}{claim.figure.unit or ''}{plain}")
        return tuple(lines)
    lines.append(f"{conv.name}: {_terms(counts, conv, scale, unit)} = {_si(whole, scale, unit)}")
    if claim.build.block is not None and outcome.removed is not None:
        formula = _formula(build)
        lines.append(f"= backbone without the block {_si(outcome.removed * scale, scale, unit)} + block part "
                     f"{_si((outcome.value - outcome.removed) * scale, scale, unit)} "
                     f"({_terms(counts, conv, scale, unit, 'blocks')})"
                     + (f"; formula {formula} summed over the blocks: "
                        f"{sum(g.total for g in measured.blocks):,}" if claim.metric == "params" else ""))
    return tuple(lines)


def _formula(build: ModelRecord) -> str:
    return f"`{BLOCKS.get(build.block).params}`" if build.block else ""
