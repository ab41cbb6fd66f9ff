"""Tables of a :func:`deploy.bench.compare` report, as aligned text or Markdown."""
from __future__ import annotations

from typing import Any

__all__ = ["rows", "records", "format_table", "machine_line"]

_HEADER = ("runtime", "batch", "model", "median ms", "p10 ms", "p90 ms", "min ms", "n", "spread",
           "samples/s", "overhead [95% CI]", "overhead of min")


def _overhead(ratio: dict[str, float] | None) -> str:
    if ratio is None:
        return "baseline"
    low, high = (ratio["ci_low"] - 1) * 100, (ratio["ci_high"] - 1) * 100
    return f"{ratio['overhead_pct']:+.1f}% [{low:+.1f}, {high:+.1f}]"


def _min_overhead(ratio: dict[str, float] | None) -> str:
    return "" if ratio is None else f"{(ratio['min_ratio'] - 1) * 100:+.1f}%"


def rows(report: dict[str, Any]) -> list[tuple[str, ...]]:
    """One row per runtime, batch and model, in the report's order (baseline first)."""
    out: list[tuple[str, ...]] = []
    for result in report["results"]:
        for label in report["labels"]:
            s = result["stats"][label]
            out.append((result["runtime"], str(result["batch"]), label, f"{s['median_ms']:.3f}",
                        f"{s['p10_ms']:.3f}", f"{s['p90_ms']:.3f}", f"{s['min_ms']:.3f}", str(s["n"]),
                        f"{s['spread']:.3f}", f"{s['throughput']:.1f}",
                        _overhead(result["ratios"].get(label)), _min_overhead(result["ratios"].get(label))))
    return out


def _pct(ratio: dict[str, float] | None, key: str) -> float | None:
    return None if ratio is None else (ratio[key] - 1) * 100


def records(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat records (one per runtime, batch and model) for CSV files and joins with FLOP counts.

    Overheads are in percent against the baseline (None for the baseline itself).
    """
    out = []
    for result in report["results"]:
        for label in report["labels"]:
            ratio = result["ratios"].get(label)
            out.append({"runtime": result["runtime"], "batch": result["batch"], "model": label,
                        **{k: v for k, v in result["stats"][label].items() if k != "batch"},
                        "overhead_pct": _pct(ratio, "ratio"), "overhead_ci_low_pct": _pct(ratio, "ci_low"),
                        "overhead_ci_high_pct": _pct(ratio, "ci_high"),
                        "min_overhead_pct": _pct(ratio, "min_ratio")})
    return out


def machine_line(report: dict[str, Any]) -> str:
    """The machine and settings the numbers belong to, in one line."""
    m, c = report["machine"], report["config"]
    gpu = f", GPU {m['gpu']['name']}" if m.get("gpu") else ""
    return (f"{m['cpu']}, {m['cores_available']} cores available{gpu}; {c['threads']} threads, "
            f"{c['warmup']} warm-up + {c['iters']} timed rounds, models alternated; load average "
            f"{m['load_average_1_5_15']} at start")


def format_table(report: dict[str, Any], markdown: bool = False) -> str:
    """The report as an aligned text table (or a Markdown table) preceded by the machine line."""
    body = rows(report)
    if markdown:
        lines = ["| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return machine_line(report) + "\n\n" + "\n".join(lines)
    widths = [max(len(r[i]) for r in [_HEADER, *body]) for i in range(len(_HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in [_HEADER, *body]]
    return machine_line(report) + "\n" + "\n".join(lines)
