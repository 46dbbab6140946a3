"""Markdown tables for part 2: per task, per schedule, median [min, max] over the evaluation seeds.

Example:
    >>> recs = [{"part": "noisy", "task": "t", "stage": "eval", "scheduler": "cosine", "peak_lr": 0.1,
    ...          "final_loss": 1.0, "heldout_acc": 0.9, "steps_to_target": 10}]
    >>> "cosine" in noisy_tables(recs)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.convergence.stats import fmt, group_by, median_of, quantiles

__all__ = ["noisy_tables", "ranks"]


def _spread(rs: list[dict[str, Any]], key: str, pct: bool = False) -> str:
    vals = [r for r in rs if r.get(key) is not None or key == "final_loss"]
    if not vals:
        return "-"
    lo, med, hi = quantiles(vals, key, (0.0, 0.5, 1.0))
    if pct:
        return f"{100 * med:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"
    return f"{fmt(med)} [{fmt(lo)}, {fmt(hi)}]"


def _steps(rs: list[dict[str, Any]]) -> str:
    hits = [r["steps_to_target"] for r in rs if r.get("steps_to_target") is not None]
    if not hits:
        return f"- (0/{len(rs)})"
    # Unreached runs count as never: the median is over all runs, so it is "-" when most never got there.
    padded = sorted(hits) + [np.inf] * (len(rs) - len(hits))
    med = float(np.median(padded))
    return f"{fmt(med) if np.isfinite(med) else '-'} ({len(hits)}/{len(rs)})"


def _peak(runs: list[dict[str, Any]], grids: dict[str, set[float]]) -> str:
    """The chosen LR, starred when it sits at an end of the scheduler's tuning grid."""
    peak, grid = runs[0]["peak_lr"], grids.get(runs[0]["scheduler"], set())
    edge = len(grid) > 1 and peak in (min(grid), max(grid))
    return fmt(peak) + ("*" if edge else "")


def _task_table(rs: list[dict[str, Any]], grids: dict[str, set[float]]) -> list[str]:
    target = rs[0].get("target_loss")
    lines = [
        f"target loss {fmt(target) if target is not None else '-'}",
        "",
        "| schedule | peak LR | final train loss | held-out accuracy | steps to target (reached) | rank |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rank = ranks(rs)
    by = group_by(rs, lambda r: r["scheduler"])
    for name in sorted(by, key=lambda n: median_of(by[n], "final_loss")):
        runs = by[name]
        acc = _spread(runs, "heldout_acc", pct=True) if runs[0].get("heldout_acc") is not None else "-"
        cells = [name, _peak(runs, grids), _spread(runs, "final_loss"), acc, _steps(runs), f"{rank[name]:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def ranks(rs: list[dict[str, Any]]) -> dict[str, float]:
    """Mean rank (1 = best) of each scheduler's final training loss, seed by seed."""
    by_seed = group_by(rs, lambda r: r["seed"])
    total: dict[str, list[float]] = {}
    for runs in by_seed.values():
        vals = {r["scheduler"]: (np.inf if r["final_loss"] is None else r["final_loss"]) for r in runs}
        order = sorted(vals, key=lambda n: vals[n])
        for i, n in enumerate(order):
            total.setdefault(n, []).append(i + 1.0)
    return {n: float(np.mean(v)) for n, v in total.items()}


def _overall(ev: list[dict[str, Any]]) -> list[str]:
    """Mean rank per scheduler over every (task, seed), and how often it beats the tuned constant LR."""
    per_task = {t: ranks(rs) for t, rs in group_by(ev, lambda r: r["task"]).items()}
    names = sorted({n for r in per_task.values() for n in r}, key=lambda n: np.mean([r[n] for r in per_task.values()]))
    lines = [
        "| schedule | mean rank (1 = best of "
        + str(len(names))
        + ") | "
        + " | ".join(f"rank on {t}" for t in per_task)
        + " | beats tuned constant (paired runs) |",
        "|---|---:|" + "---:|" * len(per_task) + "---:|",
    ]
    for n in names:
        beats = _beats(ev, n, "constant")
        cells = [n, f"{np.mean([r[n] for r in per_task.values()]):.1f}", *(f"{r[n]:.1f}" for r in per_task.values())]
        lines.append("| " + " | ".join([*cells, f"{beats:.0%}" if n != "constant" else "-"]) + " |")
    return lines


def _beats(ev: list[dict[str, Any]], a: str, b: str) -> float:
    from benchmarks.convergence.stats import win_rate

    return win_rate(ev, a, b, ("task", "seed"))


def noisy_tables(records: list[dict[str, Any]]) -> str:
    """An overall ranking, then one table per task (evaluation seeds only; tuning runs are in ``runs.json``)."""
    ev = [r for r in records if r.get("part") == "noisy" and r["stage"] == "eval"]
    tune = [r for r in records if r.get("part") == "noisy" and r["stage"] == "tune"]
    out: list[str] = ["### Overall: final training loss, ranked seed by seed", "", *_overall(ev), ""]
    for task, rs in group_by(ev, lambda r: r["task"]).items():
        grids: dict[str, set[float]] = {}
        for r in tune:
            if r["task"] == task:
                grids.setdefault(r["scheduler"], set()).add(r["peak_lr"])
        out += [f"### {task}", "", *_task_table(rs, grids), ""]
    out.append("`*`: the chosen LR is at an end of the tuning grid (a wider grid might move it).")
    return "\n".join(out)
