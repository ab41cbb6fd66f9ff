"""The page of ``benchmarks/gate_cost.py``: what each gate costs per network, runtime and batch, noisy cells marked.

Everything is recomputed from the recorded rounds (``gate_cost.py --render`` rewrites a page from
its JSON) with :mod:`overhead_report`'s per-series overheads: each model's median over the
network without any gate (``none``), timed in the same rounds and exported the same way, with its
95% paired-bootstrap interval.

A cell is marked *noisy* when the block's or the baseline's series is noisy by
:func:`recalib.deploy.stability.noise_reasons` (spread, tail, outlier rounds, interval width),
the thresholds of every recalib measurement.
"""
from __future__ import annotations

from typing import Any

from overhead_report import round_times, series, series_names

from recalib.deploy import stability
from recalib.deploy.stats import ratio, summarize
from recalib.profiling.latency.plan import BASELINE, NATIVE

__all__ = ["cells", "markdown"]

# The gate each network is published with: its native one, or SE on ResNet-50 (SE-ResNet-50).
_PUBLISHED_GATE = ("native", "se")


def _view(data: dict[str, Any], network: dict[str, Any]) -> dict[str, Any]:
    """One network's runs with the run settings :mod:`overhead_report` reads."""
    return {**network, "runtimes": data["runtimes"], "onnx_runtimes": data["onnx_runtimes"]}


def _noisy(view: dict[str, Any], name: str, batch: int, label: str) -> bool:
    """Whether ``label``'s or the baseline's rounds in series ``name`` are noisy (the ratio's interval included)."""
    times, base = round_times(view, name, batch, label), round_times(view, name, batch, BASELINE)
    if times is None or base is None:
        return False
    return bool(stability.noise_reasons(summarize(times), ratio(times, base), None, None)
                or stability.noise_reasons(summarize(base), None, None, None))


def cells(data: dict[str, Any], network: dict[str, Any], batch: int, label: str) -> dict[str, dict[str, Any]]:
    """Series name -> ``label``'s overhead over ``none`` [interval], with its ``noisy`` mark."""
    view = _view(data, network)
    found = series(view, batch, label)
    for name, cell in found.items():
        cell["noisy"] = _noisy(view, name, batch, label)
    return found


def _pct(cell: dict[str, Any] | None) -> str:
    if cell is None:
        return "–"
    text = f"{cell['pct']:+.1f}% [{cell['ci_low']:+.1f}, {cell['ci_high']:+.1f}]"
    return f"{text} *noisy*" if cell["noisy"] else text


def _cost(network: dict[str, Any], label: str) -> tuple[str, str]:
    """Parameter and multiply-add overheads of ``label`` over ``none`` (absolute figures for ``none``)."""
    costs = {c["label"]: c for c in network["costs"]}
    base, own = costs.get(BASELINE), costs.get(label)
    if own is None or base is None:
        return "–", "–"
    if label == BASELINE:
        return f"{own['params']:,}", f"{own['macs'] / 1e6:,.1f} M"
    return (f"{100 * (own['params'] - base['params']) / base['params']:+.2f}%",
            f"{100 * (own['macs'] - base['macs']) / base['macs']:+.2f}%")


def _published(network: dict[str, Any]) -> str | None:
    return next((label for label in _PUBLISHED_GATE if label in network["labels"]), None)


def _summary(data: dict[str, Any]) -> list[str]:
    """Per network and batch, the published gate's cost on each runtime (its optimised export where there is one)."""
    runtimes = data["runtimes"]
    lines = ["## The published gates", "",
             "The gate each network is published with (its native gate; SE on ResNet-50) over the same network "
             "without it, on each runtime's optimised export where there is one.", "",
             "| network | gate | batch | params | MACs | " + " | ".join(runtimes) + " |",
             "|" + "---|" * (5 + len(runtimes))]
    for network in data["networks"]:
        gate = _published(network)
        if gate is None:
            continue
        for batch in data["batches"]:
            found = cells(data, network, batch, gate)
            picked = [found.get(f"{r} optimized", found.get(f"{r} plain", found.get(r))) for r in runtimes]
            lines.append(f"| {network['arch']} | `{gate}` | {batch} | " + " | ".join(_cost(network, gate)) + " | "
                         + " | ".join(_pct(cell) for cell in picked) + " |")
    return lines


def _network(data: dict[str, Any], network: dict[str, Any]) -> list[str]:
    view = _view(data, network)
    names = [n for n in series_names(view) if any(round_times(view, n, b, BASELINE) for b in data["batches"])]
    lines = [f"## {network['arch']}", "", f"Input {'x'.join(map(str, network['input_chw']))}; load average "
             f"{network['machine']['load_average']} at start, {network['load_average_end']} at end; "
             f"{network['seconds']:.0f} s. `{BASELINE}`: no gate at all (its row: parameters, multiply-adds, median "
             f"ms); `{NATIVE}`: the network as published."]
    for batch in data["batches"]:
        lines += ["", f"Batch {batch}:", "", "| model | params | MACs | " + " | ".join(names) + " |",
                  "|" + "---|" * (3 + len(names))]
        for label in network["labels"]:
            if label == BASELINE:
                ms = [round_times(view, n, batch, label) for n in names]
                row = ["–" if t is None else f"{summarize(t).p50_ms:.2f} ms" for t in ms]
            else:
                found = cells(data, network, batch, label)
                row = [_pct(found.get(n)) for n in names]
            lines.append(f"| `{label}` | " + " | ".join(_cost(network, label)) + " | " + " | ".join(row) + " |")
    if network["not_fitting"]:
        lines += ["", "Cannot sit at the gate points:", ""]
        lines += [f"- `{block}`: {reason}" for block, reason in network["not_fitting"].items()]
    if network["failures"]:
        lines += ["", "Not measured:", ""]
        lines += [f"- {f['stage']}, {f['what']}: {f['error']}" for f in network["failures"]]
    return lines + [""]


def _head(data: dict[str, Any]) -> list[str]:
    m = data["machine"]
    rounds = "; ".join(f"{name} {', '.join(f'{n} at batch {b}' for b, n in by_batch.items())}"
                       for name, by_batch in data["rounds"].items())
    return [f"# What gates cost: native gates, no gate and recalib's blocks ({data['recorded']})", "",
            f"- machine: {m['cpu']}, {m['cores_available']} cores available, {m['os']}",
            f"- packages: {', '.join(f'{k} {v}' for k, v in m['packages'].items() if v)}",
            f"- {data['threads']} thread(s) per runtime, each runtime in its own worker process, models alternated "
            f"round by round; onnxruntime threads {'spin during a run only' if data['spinning'] else 'never spin'}; "
            f"torch.compile: Inductor with freezing; exports: {'plain and optimised' if data['optimize'] else 'plain'}",
            f"- timed rounds: {rounds}",
            f"- overhead: median over `{BASELINE}` (no gate) in the same rounds, same export [95% paired-bootstrap "
            f"interval]; *noisy*: the block's or `{BASELINE}`'s rounds spread (IQR/median) above "
            f"{stability.SPREAD_LIMIT:.0%}, p90/p50 above {stability.TAIL_LIMIT:g}, outlier rounds above "
            f"{stability.OUTLIER_LIMIT:.0%}, or an interval wider than {stability.INTERVAL_LIMIT:.0%} of the ratio"
            + ("\n- **quick smoke run: few rounds, not a measurement**" if data["quick"] else "")]


def markdown(data: dict[str, Any]) -> str:
    """The page: how it was measured, the published gates' costs, then each network's table."""
    lines = [*_head(data), "", *_summary(data), ""]
    for network in data["networks"]:
        lines += _network(data, network)
    return "\n".join(lines)
