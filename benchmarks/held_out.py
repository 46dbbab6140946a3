"""What the two pre-registered held-out evaluations share: ``learned_fresh.py`` (issue 13) and ``no_tuning.py``
(issue 21).

Each tunes its baselines with the convergence suite's widening grid, runs them on the evaluation seeds, starts
its controller at the tuned best schedule's peak LR x ``MULTS`` and reports medians, an LR-trajectory plot and
the records. A script brings its own runner and records (``records(task, seeds, plan)``: one record per run,
``scheduler``, ``peak_lr`` and ``seed`` first) and names the field that holds a run's final loss.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection
from typing import Any

import numpy as np

from benchmarks.convergence import tuning
from benchmarks.convergence.methods import METHODS, ROBUSTNESS_MULTIPLIERS
from benchmarks.convergence.tuning import round_lr
from benchmarks.learned_eval import lr_panels, start_lines

MULTS = ROBUSTNESS_MULTIPLIERS
#: Target A: a method's median final loss is at most this multiple of the tuned best schedule's ("within 10%").
WITHIN = 1.10

#: ``records(task, seeds, plan)``: one record (a dict) per run of every LR of every method of ``plan`` per seed.
Records = Callable[[Any, tuple[int, ...], dict[str, list[float]]], list[dict[str, Any]]]


def tune(task: Any, names: list[str], records: Records) -> list[dict[str, Any]]:
    """The suite's tuning (:func:`benchmarks.convergence.tuning.tune`): the starting grids of ``names`` on the
    tuning seeds, widened until every choice is interior.

    ``records`` must give each run the ``final_loss`` the tuning rules read (``None`` for a diverged run).
    """
    plan = {n: list(METHODS[n].start_grid(task)) for n in names}
    return tuning.tune(plan, lambda p: records(task, task.tune_seeds, p))


def run_started(task: Any, records: Records, base: dict[str, float], at_mults: Collection[str]) -> list[dict[str, Any]]:
    """Every method of ``base`` on the evaluation seeds, started at its LR x each of ``MULTS`` (the methods in
    ``at_mults``) or x1 (the others); each record gets the multiplier it started at as ``mult``."""
    plan: dict[str, list[float]] = {}
    mult_of: dict[tuple[str, float], float] = {}
    for n, lr in base.items():
        ks = MULTS if n in at_mults else (1.0,)
        plan[n] = [round_lr(lr * k) for k in ks]
        mult_of |= {(n, round_lr(lr * k)): k for k in ks}
    recs = records(task, task.eval_seeds, plan)
    for r in recs:
        r["mult"] = mult_of[(r["scheduler"], r["peak_lr"])]
    return recs


def run_tasks(tasks: dict[str, Any], evaluate: Callable[[Any], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``evaluate(task)`` for every task, in order; each task's ``seconds`` printed to stderr when it is done."""
    results = {}
    for name, task in tasks.items():
        results[name] = evaluate(task)
        print(f"{name}: {results[name]['seconds']:.0f} s", file=sys.stderr)
    return results


def median_loss(runs: list[dict[str, Any]], name: str, mult: float | None, field: str) -> float:
    """The median of ``field`` (a final loss; ``None`` counts as +inf) over ``name``'s runs started at ``mult``
    (``None``: all its runs)."""
    vals = [r[field] for r in runs if r["scheduler"] == name and mult in (None, r["mult"])]
    return float(np.median([np.inf if v is None else v for v in vals]))


def best_schedule(runs: list[dict[str, Any]], schedules: tuple[str, ...], field: str) -> str:
    """The schedule with the lowest median final loss at its tuned LR (ties: the first in ``schedules``)."""
    return min(schedules, key=lambda n: median_loss(runs, n, 1.0, field))


def fmt(x: float) -> str:
    """A loss or an LR in a report: three significant digits, ``diverged`` where it is not finite."""
    return f"{x:.3g}" if np.isfinite(x) else "diverged"


def schedule_table(results: dict[str, Any], sums: dict[str, Any], schedules: tuple[str, ...]) -> list[str]:
    """The report's table of every schedule's median final loss at its tuned peak LR, a task a row."""
    lines = [
        "### Every schedule at its tuned peak LR (median final loss, evaluation seeds)",
        "",
        "| task | " + " | ".join(schedules) + " |",
        "|---|" + "---:|" * len(schedules),
    ]
    for name, s in sums.items():
        tuned = results[name]["tuned"]
        cells = [f"{fmt(s['schedules'][n])} @ {fmt(tuned[n])}" for n in schedules]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def edge_note(results: dict[str, Any]) -> str:
    """The report's line naming the tuning choices left at an end of their widened grid."""
    edges = {n: r["edge"] for n, r in results.items() if r["edge"]}
    return f"Tuning choices left at an end of the widened grid: {edges if edges else 'none'}."


def plot(results: dict[str, Any], path: str, method: str, label: str) -> None:
    """A panel per task: ``method``'s median LR per start multiplier (legend ``label``) and the tuned best
    schedule's LR (its first evaluation seed)."""
    panels = {}
    for name, r in results.items():
        lrs = {k: np.stack([x["lr"] for x in r["runs"] if x["scheduler"] == method and x["mult"] == k]) for k in MULTS}
        starts = [(k, np.median(lrs[k], axis=0)) for k in MULTS]
        best = np.stack([x["lr"] for x in r["runs"] if x["scheduler"] == r["best"] and x["mult"] == 1.0])
        panels[name] = start_lines(label, starts, r["best"], None, best[0])
    lr_panels(panels, path, width=4.2)


def write(lines: list[str], results: dict[str, Any], sums: dict[str, Any], meta: dict[str, Any], out: str) -> None:
    """A held-out run's files: ``out.md`` (the report ``lines``) and ``out.json`` (``meta`` and every task's
    records with its summary, the per-step LR traces left out); the report is also printed."""
    with open(out + ".md", "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    slim = {
        n: {k: v for k, v in r.items() if k != "runs"}
        | {"runs": [{k: v for k, v in x.items() if k != "lr"} for x in r["runs"]], "summary": sums[n]}
        for n, r in results.items()
    }
    with open(out + ".json", "w", encoding="utf-8") as fh:
        json.dump({"meta": meta, "tasks": slim}, fh, indent=1, allow_nan=True)
    print("\n".join(lines))
