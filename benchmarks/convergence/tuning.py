"""Tuning with a grid that widens until every method's chosen LR is interior.

LRs live on the half-decade ladder ``..., 0.01, 0.03, 0.1, 0.3, 1, 3, 10, ...``. A method's chosen LR is the
tried LR with the lowest median final training loss over the tuning seeds (ties: the smaller LR; a run that
diverged counts as +inf). When the choice is the largest (smallest) LR tried, the next ladder LR above
(below) is tried too, round after round, until every choice has a tried LR on both sides, which includes
the case where the runs beyond it diverged, or ``rounds`` rounds have run (:func:`tune`, the one loop every
script tunes with). A choice still at an end of its grid after that is an *edge choice*, and the report says so.
An LR that a plan holds is rounded to six significant digits (:func:`round_lr`).

Example:
    >>> ladder_step(0.3, up=True), ladder_step(0.3, up=False), ladder_step(1.0, up=False)
    (1.0, 0.1, 0.3)
    >>> recs = [{"scheduler": "a", "peak_lr": lr, "final_loss": v} for lr, v in [(0.1, 3.0), (0.3, 2.0), (1.0, 1.0)]]
    >>> best_lrs(recs), widen(recs)
    ({'a': 1.0}, {'a': [3.0]})
    >>> def run(plan):  # one seed; the loss is least at 0.3
    ...     return [{"scheduler": n, "peak_lr": lr, "final_loss": abs(lr - 0.3)} for n in plan for lr in plan[n]]
    >>> recs = tune({"a": [0.01, 0.03]}, run)
    >>> tried(recs), best_lrs(recs)
    ({'a': [0.01, 0.03, 0.1, 0.3, 1.0]}, {'a': 0.3})
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MAX_ROUNDS", "best_lrs", "edge_choices", "ladder_step", "round_lr", "tried", "tune", "widen"]

MAX_ROUNDS = 4

#: ``run(plan)``: one record (``scheduler``, ``peak_lr``, ``final_loss``, ``None`` if diverged) per run of ``plan``.
Run = Callable[[dict[str, list[float]]], list[dict[str, Any]]]


def round_lr(x: float) -> float:
    """An LR as a plan holds it: six significant digits (a run's ``peak_lr`` is looked up by this value)."""
    return float(f"{x:.6g}")


def ladder_step(lr: float, up: bool) -> float:
    """The next LR of the ladder ``1, 3, 10, 30, ...`` (times powers of ten) above or below ``lr`` (on the ladder)."""
    exp = math.floor(math.log10(lr) + 1e-9)
    mantissa = lr / 10**exp
    if not (abs(mantissa - 1) < 1e-6 or abs(mantissa - 3) < 1e-6):
        raise ValueError(f"lr must be 1 or 3 times a power of ten, got {lr!r}")
    if up:
        return float(f"3e{exp}") if mantissa < 2 else float(f"1e{exp + 1}")
    return float(f"1e{exp}") if mantissa > 2 else float(f"3e{exp - 1}")


def _medians(recs: list[dict[str, Any]]) -> dict[str, dict[float, float]]:
    vals: dict[str, dict[float, list[float]]] = {}
    for r in recs:
        v = np.inf if r["final_loss"] is None else float(r["final_loss"])
        vals.setdefault(r["scheduler"], {}).setdefault(r["peak_lr"], []).append(v)
    return {n: {lr: float(np.median(v)) for lr, v in by.items()} for n, by in vals.items()}


def tried(recs: list[dict[str, Any]]) -> dict[str, list[float]]:
    """The LRs tried per method, ascending."""
    return {n: sorted(by) for n, by in _medians(recs).items()}


def best_lrs(recs: list[dict[str, Any]]) -> dict[str, float]:
    """Per method, the tried LR with the lowest median final loss (ties: the smaller LR)."""
    return {n: min(sorted(by), key=lambda lr: by[lr]) for n, by in _medians(recs).items()}


def widen(recs: list[dict[str, Any]]) -> dict[str, list[float]]:
    """The LRs to try next: one ladder step beyond each choice that sits at an end of its tried grid."""
    out: dict[str, list[float]] = {}
    grids, best = tried(recs), best_lrs(recs)
    for name, lr in best.items():
        grid = grids[name]
        if len(grid) > 1 and not np.isfinite(_medians(recs)[name][lr]):
            continue  # every LR diverged: nothing to widen towards
        if lr == grid[-1]:
            out.setdefault(name, []).append(ladder_step(lr, up=True))
        if lr == grid[0]:
            out.setdefault(name, []).append(ladder_step(lr, up=False))
    return out


def tune(plan: dict[str, list[float]], run: Run, rounds: int = MAX_ROUNDS) -> list[dict[str, Any]]:
    """Every run of ``plan`` (the starting grids), then up to ``rounds`` rounds of :func:`widen`; all the records.

    ``run`` brings the seeds and the record a script keeps; the choice is read from ``final_loss`` (see
    :func:`best_lrs`).
    """
    recs = list(run(plan))
    for _ in range(rounds):
        extra = widen(recs)
        if not extra:
            break
        recs += run(extra)
    return recs


def edge_choices(recs: list[dict[str, Any]]) -> dict[str, str]:
    """Methods whose choice is still at an end of their tried grid: name -> ``"largest"`` or ``"smallest"``."""
    grids, best = tried(recs), best_lrs(recs)
    out = {}
    for name, lr in best.items():
        if len(grids[name]) > 1 and lr in (grids[name][0], grids[name][-1]):
            out[name] = "largest" if lr == grids[name][-1] else "smallest"
    return out
