"""Plain-text rendering of a :class:`~recalib.profiling.counting.model_profile.Profile` for the terminal."""
from __future__ import annotations

from recalib.profiling.counting.conventions import CONVENTIONS
from recalib.profiling.counting.handles import CATEGORIES
from recalib.profiling.counting.model_profile import Profile

__all__ = ["render", "human"]


def human(value: float) -> str:
    """``4089184256`` → ``4.089 G``; ``28088024`` → ``28.09 M``."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.4g} {unit}"
    return f"{value:.4g}"


def _share(part: float, whole: float) -> str:
    return f"{100.0 * part / whole:.3f}%" if whole else "–"


def _header(p: Profile) -> list[str]:
    shape = "×".join(map(str, p.counts.input_shape))
    title = p.record.describe() + (f"  [reading {p.reading.name}]" if p.reading.options else "")
    b = p.breakdown
    return [title, f"input {shape}",
            f"  parameters ({p.param_convention.name:<8}) {b.total_params:>16,.0f}  {human(b.total_params):>10}"
            f"   recalibration {human(b.recal_params):>10} = {_share(b.recal_params, b.total_params)}",
            f"  FLOPs      ({p.flop_convention.name:<8}) {b.total_flops:>16,.0f}  {human(b.total_flops):>10}"
            f"   recalibration {human(b.recal_flops):>10} = {_share(b.recal_flops, b.total_flops)}"]


def _categories(p: Profile) -> list[str]:
    flops = p.counts.categories("flops")
    lines = ["", "work by category (raw units: multiply-adds, elements or taps)"]
    lines += [f"  {cat:<8} {flops[cat]:>16,}" for cat in CATEGORIES if flops.get(cat)]
    return lines


def _conventions(p: Profile) -> list[str]:
    lines = ["", "totals under every convention"]
    for name, value in p.totals().items():
        lines.append(f"  {name:<14} {human(value):>10}   {CONVENTIONS[name].summary}")
    return lines


def _blocks(p: Profile, limit: int = 60) -> list[str]:
    b = p.breakdown
    if not b.blocks:
        return ["", "no recalibration blocks" + (", and no gates found in its graph" if p.gates is not None else "")]
    what = "gates found in its graph" if p.gates is not None else "recalibration blocks"
    lines = ["", f"{what} ({len(b.blocks)}; share of the whole model)",
             f"  {'module':<34} {'kind':<22} {'params':>10} {'%':>8} {'FLOPs':>10} {'%':>8}"]
    for s in b.blocks[:limit]:
        lines.append(f"  {s.name[:34]:<34} {s.kind[:22]:<22} {human(s.params):>10} "
                     f"{_share(s.params, b.total_params):>8} {human(s.flops):>10} {_share(s.flops, b.total_flops):>8}")
    if len(b.blocks) > limit:
        lines.append(f"  … {len(b.blocks) - limit} more (see --json)")
    return lines


def render(p: Profile) -> str:
    """The profile as an aligned text table."""
    unsupported = ", ".join(f"{op}×{n}" for op, n in p.counts.unsupported.items()) or "none"
    lines = _header(p) + _categories(p) + _conventions(p) + _blocks(p)
    lines += ["", f"unsupported ops: {unsupported}"]
    if p.crosscheck is not None:
        lines.append(f"cross-check: {p.crosscheck.describe()}")
    return "\n".join(lines)
