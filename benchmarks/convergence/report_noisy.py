"""Markdown tables for part 2: rankings with bootstrap intervals, per-task tables, edge choices, robustness.

Example:
    >>> recs = [{"part": "noisy", "task": "t", "stage": "eval", "scheduler": n, "kind": "schedule", "peak_lr": 0.1,
    ...          "seed": s, "final_loss": v, "heldout_acc": 0.9, "steps_to_target": 10}
    ...         for s in range(3) for n, v in [("cosine", 1.0), ("constant", 2.0)]]
    >>> "cosine" in noisy_tables(recs)
    True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.convergence.stats import (
    bootstrap_ci,
    fmt,
    group_by,
    median_of,
    quantiles,
    rank_matrix,
    values_of,
    win_rate,
)
from benchmarks.convergence.tuning import edge_choices, tried

__all__ = ["edges", "noisy_tables", "overall_ranks", "robustness"]


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


def _ranks_with_ci(
    per_task: dict[str, list[dict[str, Any]]], names: list[str]
) -> dict[str, tuple[float, float, float]]:
    """Mean over tasks of each method's mean tie-averaged rank over seeds, with a 95% bootstrap interval."""
    mats = [rank_matrix(rs, names) for rs in per_task.values()]

    def stat(samples: list[np.ndarray]) -> np.ndarray:
        return np.mean([s.mean(axis=0) for s in samples], axis=0)

    mean = stat(mats)
    lo, hi = bootstrap_ci(mats, stat)
    return {n: (float(mean[i]), float(lo[i]), float(hi[i])) for i, n in enumerate(names)}


def overall_ranks(ev: list[dict[str, Any]]) -> dict[str, tuple[float, float, float]]:
    """``method -> (mean rank, low, high)`` over every task, among the methods that ran on every task."""
    per_task = group_by(ev, lambda r: r["task"])
    common = [n for n in dict.fromkeys(r["scheduler"] for r in ev) if all(_has(rs, n) for rs in per_task.values())]
    return _ranks_with_ci(per_task, common)


def _has(rs: list[dict[str, Any]], name: str) -> bool:
    return any(r["scheduler"] == name for r in rs)


def _overall(ev: list[dict[str, Any]]) -> list[str]:
    """Mean rank per method over every (task, seed), and how often it beats the tuned constant LR."""
    per_task = group_by(ev, lambda r: r["task"])
    ranks = overall_ranks(ev)
    task_ranks = {t: _ranks_with_ci({t: rs}, list(ranks)) for t, rs in per_task.items()}
    kinds = {r["scheduler"]: r.get("kind", "schedule") for r in ev}
    lines = [
        f"| method | kind | mean rank (1 = best of {len(ranks)}) [95% CI] | "
        + " | ".join(f"rank on {t}" for t in per_task)
        + " | beats tuned constant (paired runs) |",
        "|---|---|---:|" + "---:|" * len(per_task) + "---:|",
    ]
    for n in sorted(ranks, key=lambda n: ranks[n][0]):
        mean, lo, hi = ranks[n]
        beats = win_rate(ev, n, "constant", ("task", "seed"))
        cells = [n, kinds[n], f"{mean:.1f} [{lo:.1f}, {hi:.1f}]", *(f"{task_ranks[t][n][0]:.1f}" for t in per_task)]
        lines.append("| " + " | ".join([*cells, f"{beats:.0%}" if n != "constant" else "-"]) + " |")
    missing = sorted({r["scheduler"] for r in ev} - set(ranks))
    if missing:
        lines += ["", f"Not on every task (ranked per task only): {', '.join(missing)}."]
    return lines


def _lr_cell(runs: list[dict[str, Any]], grids: dict[str, list[float]], edge: dict[str, str]) -> str:
    r = runs[0]
    if r.get("lr_source") == "recommended":
        return "rec." if r["peak_lr"] == 1.0 else f"rec. x{fmt(r['peak_lr'])}"
    grid = grids.get(r["scheduler"], [])
    span = f" ({fmt(grid[0])}-{fmt(grid[-1])})" if len(grid) > 1 else ""
    return fmt(r["peak_lr"]) + ("*" if r["scheduler"] in edge else "") + span


def _task_table(rs: list[dict[str, Any]], tune: list[dict[str, Any]]) -> list[str]:
    target = rs[0].get("target_loss")
    grids, edge = tried(tune), edge_choices(tune)
    names = list(dict.fromkeys(r["scheduler"] for r in rs))
    rank = _ranks_with_ci({"t": rs}, names)
    lines = [
        f"target loss {fmt(target) if target is not None else '-'}",
        "",
        "| method | LR (grid tried) | final train loss | held-out accuracy | steps to target (reached) "
        "| rank [95% CI] |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    by = group_by(rs, lambda r: r["scheduler"])
    for name in sorted(by, key=lambda n: (median_of(by[n], "final_loss"), rank[n][0])):
        runs = by[name]
        acc = _spread(runs, "heldout_acc", pct=True) if runs[0].get("heldout_acc") is not None else "-"
        mean, lo, hi = rank[name]
        cells = [name, _lr_cell(runs, grids, edge), _spread(runs, "final_loss"), acc, _steps(runs)]
        lines.append("| " + " | ".join([*cells, f"{mean:.1f} [{lo:.1f}, {hi:.1f}]"]) + " |")
    return lines


def edges(records: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """``task -> {method: "largest"/"smallest"}``: tuned choices still at an end of their widened grid."""
    tune = [r for r in records if r.get("part") == "noisy" and r["stage"] == "tune"]
    return {t: edge_choices(rs) for t, rs in group_by(tune, lambda r: r["task"]).items()}


def robustness(records: list[dict[str, Any]]) -> dict[str, dict[float, float]]:
    """``method -> {multiplier k: mean over tasks of the rank it would have had, started at LR x k}``.

    On each task, on the robustness seeds, every method's median final loss at its tuned (or recommended)
    LR forms the field; the method's median at ``x k`` replaces its own and is ranked among them
    (tie-averaged, 1 = best). So ``x1`` gives its rank in the tuned field, and the other multipliers say
    where a mis-set starting LR would have put it. Ranks, unlike loss ratios, are defined when a loss is 0
    (float32 underflow on separable data) or infinite (diverged).
    """
    rs = [r for r in records if r.get("part") == "noisy" and r["stage"] in ("eval", "robust") and "multiplier" in r]
    out: dict[str, dict[float, list[float]]] = {}
    for trs in group_by(rs, lambda r: r["task"]).values():
        seeds = {r["seed"] for r in trs if r["stage"] == "robust"}
        field = {
            n: float(np.median(values_of(nrs, "final_loss")))
            for n, nrs in group_by([r for r in trs if r["stage"] == "eval" and r["seed"] in seeds], _name).items()
        }
        for name, nrs in group_by([r for r in trs if r["seed"] in seeds], _name).items():
            if not any(r["stage"] == "robust" for r in nrs):
                continue
            for k, krs in group_by(nrs, lambda r: r["multiplier"]).items():
                others = np.array([v for n, v in field.items() if n != name])
                x = float(np.median(values_of(krs, "final_loss")))
                rank = 1 + np.sum(others < x) + 0.5 * np.sum(others == x)
                out.setdefault(name, {}).setdefault(k, []).append(float(rank))
    return {n: {k: float(np.mean(v)) for k, v in sorted(by.items())} for n, by in out.items()}


def _name(r: dict[str, Any]) -> str:
    return r["scheduler"]


def _robust_tables(records: list[dict[str, Any]]) -> list[str]:
    rob = robustness(records)
    if not rob:
        return []
    mults = sorted({k for by in rob.values() for k in by})
    field = len({r["scheduler"] for r in records if r.get("part") == "noisy" and r["stage"] == "eval"})
    lines = [
        "### Robustness to the starting LR",
        "",
        "Where a method would rank (1 = best of the field of tuned methods, up to "
        f"{field}) if started at its tuned (or recommended) LR times k: on each task, on the robustness seeds, its",
        "median final training loss at x k is ranked among every other method's median at its own tuned LR;",
        "mean over the tasks. x1 is its rank when tuned; a flat row means the starting LR hardly matters.",
        "",
        "| method | " + " | ".join(f"x{fmt(k)}" for k in mults) + " | worst |",
        "|---|" + "---:|" * (len(mults) + 1),
    ]
    for name, by in sorted(rob.items(), key=lambda kv: max(kv[1].values())):
        cells = [f"{by[k]:.1f}" if k in by else "-" for k in mults]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {max(by.values()):.1f} |")
    rs = [r for r in records if r.get("part") == "noisy" and r["stage"] in ("eval", "robust") and "multiplier" in r]
    for task, trs in group_by(rs, lambda r: r["task"]).items():
        lines += ["", f"**{task}**: median final training loss at LR x k", ""]
        lines += ["| method | LR x1 | " + " | ".join(f"x{fmt(k)}" for k in mults) + " |"]
        lines += ["|---|---:|" + "---:|" * len(mults)]
        for name, nrs in group_by(trs, lambda r: r["scheduler"]).items():
            if not any(r["stage"] == "robust" for r in nrs):
                continue
            seeds = {r["seed"] for r in nrs if r["stage"] == "robust"}
            at = group_by([r for r in nrs if r["seed"] in seeds], lambda r: r["multiplier"])
            cells = [fmt(median_of(at[k], "final_loss")) if k in at else "-" for k in mults]
            lines.append(f"| {name} | {fmt(nrs[0]['base_lr'])} | " + " | ".join(cells) + " |")
    return lines


def noisy_tables(records: list[dict[str, Any]]) -> str:
    """An overall ranking, then one table per task (evaluation seeds only; tuning runs are in ``runs.json``)."""
    ev = [r for r in records if r.get("part") == "noisy" and r["stage"] == "eval"]
    tune = [r for r in records if r.get("part") == "noisy" and r["stage"] == "tune"]
    out: list[str] = ["### Overall: final training loss, ranked seed by seed", "", *_overall(ev), ""]
    for task, rs in group_by(ev, lambda r: r["task"]).items():
        out += [f"### {task}", "", *_task_table(rs, [r for r in tune if r["task"] == task]), ""]
    out.append(
        "LR: the chosen LR and, in brackets, the range of LRs tried (the grid widened from the starting grid);"
        " `*`: still at an end of that range after the widening rounds; `rec.`: the method's recommended"
        " setting, untuned."
    )
    remaining = {t: e for t, e in edges(records).items() if e}
    out += ["", "**Edge choices left:** " + _edge_text(remaining), ""]
    out += _robust_tables(records)
    return "\n".join(out)


def _edge_text(remaining: dict[str, dict[str, str]]) -> str:
    if not remaining:
        return "none; every tuned LR has a tried LR on each side."
    parts = [f"{t}: " + ", ".join(f"{n} ({side})" for n, side in e.items()) for t, e in remaining.items()]
    return "; ".join(parts) + "."
