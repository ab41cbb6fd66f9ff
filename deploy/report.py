"""A :class:`~recalib.deploy.results.BenchResult` as text or Markdown, in trtexec's and benchmark_app's terms.

Each row carries its stability (spread = IQR/median, p90/p50, outlier rounds) and, when it is
noisy (:mod:`recalib.deploy.stability`), the mark ``NOISY``; the reasons follow the table, so a
number that is not a result cannot be mistaken for one.
"""
from __future__ import annotations

from recalib.deploy import stability
from recalib.deploy.results import BenchResult, Measurement

__all__ = ["format_table", "settings_lines", "noise_lines", "NOISY"]

NOISY = "NOISY"
_HEADER = ("runtime", "batch", "model", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "mean ms", "min ms",
           "max ms", "n", "samples/s", "spread", "p90/p50", "outliers", "overhead [95% CI]", "overhead of min",
           "stable")
_REPEATS = "overhead per run"


def _overhead(m: Measurement) -> str:
    interval = m.interval_pct()
    if m.ratio is None or interval is None:
        return "baseline"
    return f"{m.ratio.overhead_pct:+.1f}% [{interval[0]:+.1f}, {interval[1]:+.1f}]"


def _row(m: Measurement, repeated: bool) -> tuple[str, ...]:
    s = m.stats
    times = (s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.mean_ms, s.min_ms, s.max_ms)
    min_overhead = "" if m.ratio is None else f"{(m.ratio.min_ratio - 1) * 100:+.1f}%"
    runs = m.repeat_range()
    return (m.target, str(m.batch), m.label, *(f"{t:.3f}" for t in times), str(s.n), f"{s.throughput:.1f}",
            f"{s.spread:.1%}", f"{s.tail:.2f}", str(s.outliers), _overhead(m), min_overhead,
            NOISY if m.noisy else "yes",
            *(["" if runs is None else f"{runs[0]:+.1f} to {runs[1]:+.1f}%"] if repeated else []))


def noise_lines(measurements: tuple[Measurement, ...] | list[Measurement]) -> list[str]:
    """Why each noisy series is noisy, and the thresholds (none when every series is steady)."""
    noisy = [m for m in measurements if m.noisy]
    if not noisy:
        return []
    return ([f"{NOISY}: {m.target} batch {m.batch} {m.label}: {'; '.join(m.noise)}" for m in noisy]
            + [f"{NOISY} marks a series whose spread (IQR/median) > {stability.SPREAD_LIMIT:.0%}, p90/p50 > "
               f"{stability.TAIL_LIMIT:g}, outlier rounds > {stability.OUTLIER_LIMIT:.0%}, overhead interval "
               f"> {stability.INTERVAL_LIMIT:.0%} of the ratio, load > {stability.LOAD_LIMIT:g} per core or "
               f"repeat runs > {stability.REPEAT_LIMIT:g} points apart: rerun it on a quieter machine, with "
               f"more rounds (--iters, --duration) or --repeat"])


def _exports(exports: dict[str, str]) -> str:
    """``; exports: optimised for openvino (openvino-cpu), plain (ort-cpu)``: which file each runtime timed."""
    runtimes: dict[str, list[str]] = {}
    for runtime, how in exports.items():
        runtimes.setdefault(how, []).append(runtime)
    return "; exports: " + ", ".join(f"{how} ({', '.join(r)})" for how, r in runtimes.items()) if exports else ""


def settings_lines(result: BenchResult) -> list[str]:
    """The machine, the settings, the models and the parity checks the numbers belong to."""
    s = result.settings
    options = "; ".join(f"{k}: {v.to_dict()}" for k, v in s.runtime_options.items() if v.given())
    rounds = f"{s.duration:g} s of timed rounds" if s.duration is not None else f"{s.iters} timed rounds"
    runs = f", {s.repeat} runs per runtime in fresh processes (rounds pooled)" if s.repeat > 1 else ""
    runs += f", inputs: the images of {s.inputs}" if s.inputs is not None else ", inputs: random"
    lines = [f"machine: {result.machine.describe()} at start, {result.load_average_end} at end",
             f"settings: {s.threads} threads, {s.warmup} warm-up + {rounds} per batch, models "
             f"alternated{', one worker process per runtime' if s.isolate else ''}{runs}; baseline {result.baseline}"
             + (f"; {options}" if options else "")]
    for model in result.models:
        made = f" ({model.source})" if model.source != model.label else ""
        exports = _exports(model.exports)
        lines.append(f"model {model.label}{made}: input {'x'.join(map(str, model.input_chw))}, "
                     f"verified {model.verified}{exports}")
    lines += [f"{target} ran: {', '.join(f'{k} {v}' for k, v in ran.items())}"
              for target, ran in result.runtime_settings.items()]
    lines += [f"parity {p.describe()}" for p in result.parity]
    return lines


def format_table(result: BenchResult, markdown: bool = False) -> str:
    """The settings lines, then one row per target, batch and model (baseline first), then why any
    row is noisy."""
    repeated = result.settings.repeat > 1
    header = (*_HEADER, _REPEATS) if repeated else _HEADER
    body = [_row(m, repeated) for m in result.measurements]
    head, tail = settings_lines(result), noise_lines(result.measurements)
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(f"- {line}" for line in head) + "\n\n" + "\n".join(
            lines + ["| " + " | ".join(row) + " |" for row in body]) + "".join(f"\n\n{line}" for line in tail)
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    rows = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [header, *body]]
    return "\n".join(head + [""] + rows + ([""] + tail if tail else []))
