"""Markdown for part 1: our medians next to the paper's, per family, and where they differ and why.

Example:
    >>> recs = [{"part": "paper", "kind": "analytic", "family": "f", "seed": 0, "scheduler": "cosine",
    ...          "final_loss": 1.0}]
    >>> "cosine" in paper_tables(recs)
    True
"""

from __future__ import annotations

from typing import Any

from benchmarks.convergence.stats import fmt, group_by, median_of, quantiles, win_rate

__all__ = ["PAPER_MEDIANS", "SCHEDULER_GROUPS", "paper_tables"]

# Published final-loss medians (arXiv 2512.14527, §4.4 / App. A.6): (analytic problems, all runs).
PAPER_MEDIANS = {
    "GreedyLR": (3.08, 0.148),
    "cosine": (7.96, 0.232),
    "cosine_restarts": (7.96, 0.226),
    "exponential": (36.12, 0.249),
}

# Report rows: label -> the schedulers pooled into it (GreedyLR: both patience values, as the paper pools them).
SCHEDULER_GROUPS = {
    "GreedyLR (lrsched)": ("greedy_p1", "greedy_p10"),
    "GreedyLR (paper rules)": ("greedy_paper_p1", "greedy_paper_p10"),
    "cosine": ("cosine",),
    "cosine_restarts": ("cosine_restarts",),
    "exponential": ("exponential",),
    "constant": ("constant",),
}


def _paper_ref(label: str) -> tuple[str, str]:
    key = "GreedyLR" if label.startswith("GreedyLR") else label
    ref = PAPER_MEDIANS.get(key)
    return (fmt(ref[0]), fmt(ref[1])) if ref else ("-", "-")


def _headline(records: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| scheduler | runs | analytic median (ours) | analytic (paper) | networks median (ours) "
        "| all runs median (ours) | all runs (paper) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, names in SCHEDULER_GROUPS.items():
        rs = [r for r in records if r["scheduler"] in names]
        if not rs:
            continue
        ana = [r for r in rs if r["kind"] == "analytic"]
        net = [r for r in rs if r["kind"] == "neural"]
        pa, pall = _paper_ref(label)
        cells = [label, str(len(rs)), fmt(median_of(ana, "final_loss")), pa, fmt(median_of(net, "final_loss"))]
        lines.append("| " + " | ".join([*cells, fmt(median_of(rs, "final_loss")), pall]) + " |")
    return lines


def _per_family(records: list[dict[str, Any]]) -> list[str]:
    names = list(dict.fromkeys(r["scheduler"] for r in records))
    lines = ["| family | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for family, rs in group_by(records, lambda r: r["family"]).items():
        cells = []
        for name in names:
            lo, med, hi = quantiles([r for r in rs if r["scheduler"] == name], "final_loss")
            cells.append(f"{fmt(med)} [{fmt(lo)}, {fmt(hi)}]")
        lines.append(f"| {family} | " + " | ".join(cells) + " |")
    return lines


def _wins(records: list[dict[str, Any]]) -> list[str]:
    names = [n for n in dict.fromkeys(r["scheduler"] for r in records) if n != "cosine"]
    lines = ["| scheduler | beats cosine on (paired runs, analytic) | (networks) |", "|---|---:|---:|"]
    for name in names:
        ana = [r for r in records if r["kind"] == "analytic"]
        net = [r for r in records if r["kind"] == "neural"]
        wa = win_rate(ana, name, "cosine", ("family", "seed"))
        wn = win_rate(net, name, "cosine", ("family", "seed"))
        lines.append(f"| {name} | {wa:.0%} | {wn:.0%} |")
    return lines


def paper_tables(records: list[dict[str, Any]]) -> str:
    """The headline table (ours vs paper), the per-family table (median [q25, q75]) and paired win rates."""
    records = [r for r in records if r.get("part", "paper") == "paper"]
    parts = [
        "### Headline: median final loss",
        "",
        *_headline(records),
        "",
        "### Per family: median final loss [25%, 75%]",
        "",
        *_per_family(records),
        "",
        "### Paired comparison with cosine (same problem, same initialisation)",
        "",
        *_wins(records),
    ]
    return "\n".join(parts)
