"""Part 1: the paper's robustness grid (arXiv 2512.14527 §4.4 / App. A.6), rerun with lrsched.

Protocol (the reference's 8,100-run grid, ``GreedyLR/experiments`` of amazon-science/aws-research-science):
Adam at lr 0.01, 200 full-batch steps, the scheduler stepped after every optimizer step; GreedyLR with
factor 0.9, min_lr 1e-5 and patience 1 and 10 (two runs per cell); cosine to 1e-5 over 200 steps; cosine
restarts with period 50 (the reference passes ``T_mult=2`` under a key its runner ignores, so every period
is 50); exponential with gamma 0.95; plus a constant LR, which the paper omits.

The reference adds its "noise" to the loss as a constant after the forward pass: it changes neither the
gradient nor the value the scheduler sees (``loss.item()`` is taken before the noise). Its 27 noise cells
per problem variant are therefore fresh random initialisations. We run ``SEEDS`` initialisations per
model type, its variants assigned round-robin: the paper's 135 (5 variants x 27 cells) for the analytic
problems, 27 for the networks (their cost on 2 CPU cores sets that count).

Example:
    >>> records, curves = run_paper(seeds=2, families=["quadratic"], steps=20, show_progress=False)
    >>> sorted({r["scheduler"] for r in records})[:2]
    ['constant', 'cosine']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

import lrsched
from benchmarks.convergence.controllers import greedy_controllers
from benchmarks.convergence.engine import runner
from benchmarks.convergence.problems import ANALYTIC, FAMILIES, Problem
from benchmarks.convergence.util import progress_bar, stack, summarize_run

__all__ = ["LR", "SEEDS", "run_paper", "schedules"]

LR = 0.01
SEEDS = {"analytic": 135, "neural": 27}  # initialisations per model type


def schedules(steps: int) -> dict[str, lrsched.Schedule]:
    """The time-based schedules of the paper's grid, plus the constant baseline."""
    return {
        "constant": lrsched.constant(LR),
        "cosine": lrsched.cosine_decay(LR, steps, end_value=1e-5),
        "cosine_restarts": lrsched.cosine_restarts(LR, first_period=50, end_value=1e-5),
        "exponential": lrsched.exponential_decay(LR, 0.95),
    }


def _groups(family: str, seeds: int) -> dict[Problem, list[tuple[int, str, Any, Any]]]:
    """The family's runs grouped by problem shape: seed ``s`` gets variant ``s % len(variants)``."""
    variants = list(FAMILIES[family])
    fam_id = list(FAMILIES).index(family)
    groups: dict[str, list[tuple[int, str, Any, Any]]] = {}
    first: dict[str, Problem] = {}
    for s in range(seeds):
        variant = variants[s % len(variants)]
        problem = first.setdefault(FAMILIES[family][variant].shape, FAMILIES[family][variant])
        params, data = FAMILIES[family][variant].sample(np.random.default_rng([fam_id, s]))
        groups.setdefault(problem.shape, []).append((s, variant, params, data))
    return {first[shape]: runs for shape, runs in groups.items()}


def _run_group(problem: Problem, runs: list, steps: int, tick: Callable[[], None]) -> list[tuple[str, int, dict]]:
    """Every scheduler on every run of one problem; returns ``(scheduler, run index, outputs)``."""
    params, data = stack([r[2] for r in runs]), stack([r[3] for r in runs])
    n, out = len(runs), []
    scheds = schedules(steps)
    lrs = np.concatenate([np.repeat(s(np.arange(steps))[None], n, 0) for s in scheds.values()])
    k = len(scheds)
    res = runner(problem.loss)(
        stack([params] * k, cat=True), stack([data] * k, cat=True), np.zeros((k * n, steps), int), lrs
    )
    out += [(name, i, _row(res, j * n + i)) for j, name in enumerate(scheds) for i in range(n)]
    tick()
    for name, ctrl in greedy_controllers().items():
        res = runner(problem.loss, controller=ctrl)(params, data, np.zeros((n, steps), int), np.full(n, LR))
        out += [(name, i, _row(res, i)) for i in range(n)]
        tick()
    return out


def _row(res: dict[str, Any], i: int) -> dict[str, np.ndarray]:
    return {"loss": np.asarray(res["loss"][i]), "lr": np.asarray(res["lr"][i])}


def _kind(family: str) -> str:
    return "analytic" if family in ANALYTIC else "neural"


def run_paper(
    seeds: int | None = None, families: list[str] | None = None, steps: int = 200, show_progress: bool = True
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, np.ndarray]]]:
    """Run the grid; returns one record per run and per-(family, scheduler) ``{"loss", "lr"}`` arrays (runs, steps).

    ``seeds``: initialisations per model type (default: ``SEEDS`` of its kind).
    """
    families = list(FAMILIES) if families is None else families
    plan = {f: _groups(f, SEEDS[_kind(f)] if seeds is None else seeds) for f in families}
    total = sum(len(g) for g in plan.values()) * (1 + len(greedy_controllers()))
    records: list[dict[str, Any]] = []
    curves: dict[tuple[str, str], list[dict[str, np.ndarray]]] = {}
    with progress_bar(total, "part 1 (paper grid)", show_progress) as tick:
        for family, groups in plan.items():
            for problem, runs in groups.items():
                for name, i, row in _run_group(problem, runs, steps, tick):
                    seed, variant = runs[i][0], runs[i][1]
                    meta = {"part": "paper", "kind": _kind(family), "family": family, "variant": variant, "seed": seed}
                    records.append(meta | {"scheduler": name} | summarize_run(row["loss"], row["lr"]))
                    curves.setdefault((family, name), []).append(row)
    return records, {k: {key: np.stack([r[key] for r in v]) for key in ("loss", "lr")} for k, v in curves.items()}
