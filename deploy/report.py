"""A :class:`~recalib.deploy.results.BenchResult` as text or Markdown, in trtexec's and benchmark_app's terms."""
from __future__ import annotations

from recalib.deploy.results import BenchResult, Measurement

__all__ = ["format_table", "settings_lines"]

_HEADER = ("runtime", "batch", "model", "p50 ms", "p90 ms", "p95 ms", "p99 ms", "mean ms", "min ms",
           "max ms", "n", "samples/s", "overhead [95% CI]", "overhead of min")


def _overhead(m: Measurement) -> str:
    interval = m.interval_pct()
    if m.ratio is None or interval is None:
        return "baseline"
    return f"{m.ratio.overhead_pct:+.1f}% [{interval[0]:+.1f}, {interval[1]:+.1f}]"


def _row(m: Measurement) -> tuple[str, ...]:
    s = m.stats
    times = (s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.mean_ms, s.min_ms, s.max_ms)
    min_overhead = "" if m.ratio is None else f"{(m.ratio.min_ratio - 1) * 100:+.1f}%"
    return (m.target, str(m.batch), m.label, *(f"{t:.3f}" for t in times), str(s.n), f"{s.throughput:.1f}",
            _overhead(m), min_overhead)


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
    lines = [f"machine: {result.machine.describe()} at start, {result.load_average_end} at end",
             f"settings: {s.threads} threads, {s.warmup} warm-up + {s.iters} timed rounds per batch, models "
             f"alternated{', one worker process per runtime' if s.isolate else ''}; baseline {result.baseline}"
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
    """The settings lines, then one row per target, batch and model (baseline first)."""
    body = [_row(m) for m in result.measurements]
    head = settings_lines(result)
    if markdown:
        lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
        return "\n".join(f"- {line}" for line in head) + "\n\n" + "\n".join(
            lines + ["| " + " | ".join(row) + " |" for row in body])
    widths = [max(len(r[i]) for r in [_HEADER, *body]) for i in range(len(_HEADER))]
    rows = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [_HEADER, *body]]
    return "\n".join(head + [""] + rows)
