"""Markdown for part 1: our medians next to the paper's, per family, and where they differ and why.

Example:
    >>> recs = [{"part": "paper", "kind": "analytic", "family": "f", "seed": 0, "scheduler": "cosine",
    ...          "final_loss": 1.0}]
    >>> "cosine" in paper_tables(recs)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.convergence.stats import bootstrap_ci, fmt, group_by, median_of, quantiles, values_of, win_rate

__all__ = ["PAPER_MEDIANS", "SCHEDULER_GROUPS", "headline_medians", "paper_tables"]

# Published final-loss medians (arXiv 2512.14527, §4.4 / App. A.6): (analytic problems, all runs).
PAPER_MEDIANS = {
    "GreedyLR": (3.08, 0.148),
    "cosine": (7.96, 0.232),
    "cosine_restarts": (7.96, 0.226),
    "exponential": (36.12, 0.249),
}

# Report rows: label -> the schedulers pooled into it (GreedyLR: both patience values, as the paper pools them).
SCHEDULER_GROUPS = {
    "GreedyLR (lrsched, paper's settings)": ("greedy_p1", "greedy_p10"),
    "GreedyLR (lrsched, plain)": ("greedy_plain_p1", "greedy_plain_p10"),
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


def headline_medians(records: list[dict[str, Any]]) -> dict[str, dict[str, tuple[float, float, float]]]:
    """``label -> {"analytic" | "neural" | "all": (median, low, high)}``: pooled medians, 95% bootstrap intervals.

    The bootstrap resamples initialisations (a cell's runs of every pooled scheduler stay together) within
    each problem family, so the family mix is that of the runs.
    """
    out: dict[str, dict[str, tuple[float, float, float]]] = {}
    for label, names in SCHEDULER_GROUPS.items():
        rs = [r for r in records if r["scheduler"] in names]
        if not rs:
            continue
        out[label] = {}
        for part, sub in (("analytic", "analytic"), ("neural", "neural"), ("all", None)):
            cells = [r for r in rs if sub is None or r["kind"] == sub]
            strata = [_cells(frs, names) for frs in group_by(cells, lambda r: r["family"]).values()]
            if not strata:
                continue
            lo, hi = bootstrap_ci(strata, lambda s: np.median(np.concatenate([a.ravel() for a in s])))
            out[label][part] = (median_of(cells, "final_loss"), float(lo), float(hi))
    return out


def _cells(records: list[dict[str, Any]], names: tuple[str, ...]) -> np.ndarray:
    """``(initialisations, len(names))`` final losses of one family (``None`` as inf)."""
    by = group_by(records, lambda r: r["seed"])
    return np.array(
        [[values_of([r for r in runs if r["scheduler"] == n], "final_loss")[0] for n in names] for runs in by.values()]
    )


def _ci(x: tuple[float, float, float]) -> str:
    return f"{fmt(x[0])} [{fmt(x[1])}, {fmt(x[2])}]"


def _headline(records: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| scheduler | runs | analytic median [95% CI] | analytic (paper) | networks median [95% CI] "
        "| all runs median [95% CI] | all runs (paper) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, meds in headline_medians(records).items():
        n = sum(r["scheduler"] in SCHEDULER_GROUPS[label] for r in records)
        pa, pall = _paper_ref(label)
        cells = [label, str(n), _ci(meds["analytic"]) if "analytic" in meds else "-", pa]
        cells += [_ci(meds["neural"]) if "neural" in meds else "-", _ci(meds["all"]), pall]
        lines.append("| " + " | ".join(cells) + " |")
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
