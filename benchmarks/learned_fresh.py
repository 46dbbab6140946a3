"""The pre-registered held-out evaluation of the learned LR controller on fresh tasks (issue 13).

Protocol: ``benchmarks/results/learned_protocol.md`` (committed before this ran). Tasks:
:mod:`benchmarks.learned_tasks`. Everything runs through the convergence suite's machinery:
:func:`benchmarks.convergence.execute.execute` (training loop, seeds, minibatches), the registry of
:mod:`benchmarks.convergence.methods` (schedules, GreedyLR, parameter-free optimizers; the learned
controller is added with its ``register``) and the tuning rules of :mod:`benchmarks.convergence.tuning`.

Usage (repository root)::

    python benchmarks/learned_fresh.py            # writes benchmarks/results/learned_fresh.{json,md} + PNG
    python benchmarks/learned_fresh.py --smoke    # 40-step runs, 2 seeds: checks the plumbing only
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks import held_out
from benchmarks.convergence.execute import execute
from benchmarks.convergence.methods import METHODS, ROBUSTNESS_MULTIPLIERS, Method, register
from benchmarks.convergence.tuning import best_lrs, edge_choices
from benchmarks.held_out import fmt
from benchmarks.learned_tasks import FRESH, FreshTask
from lrsched.controllers.learned import LearnedLR

HERE = os.path.dirname(os.path.abspath(__file__))
POLICY = os.path.join(HERE, "..", "lrsched", "controllers", "policies", "default.json")
SCHEDULES = tuple(n for n, m in METHODS.items() if m.kind == "schedule")
GREEDY = ("greedy", "greedy_robust")
PARAM_FREE = ("prodigy", "dadapt_adamw", "mechanic", "dog", "cocob", "schedule_free_adamw")
LIKE_FOR_LIKE = ("greedy", "greedy_robust", "warmup_cosine", "wsd")  # also run at the multipliers (secondary)
MULTS = ROBUSTNESS_MULTIPLIERS


def _rec(name: str, lr: float, seed: int, out: dict[str, Any]) -> dict[str, Any]:
    final = float(np.asarray(out["eval"], float)[-1])
    return {
        "scheduler": name,
        "peak_lr": lr,
        "seed": seed,
        "final_loss": final if np.isfinite(final) else None,
        "acc": None if np.isnan(out["acc"]) else float(out["acc"]),
        "lr": np.asarray(out["lr"], float),
    }


def _records(task: FreshTask, seeds: tuple[int, ...], plan: dict[str, list[float]]) -> list[dict[str, Any]]:
    return [_rec(*row) for row in execute(task, seeds, plan)]


def evaluate(task: FreshTask, policy: LearnedLR) -> dict[str, Any]:
    """Tune the baselines, run them and the learned controller on the evaluation seeds (see the protocol)."""
    t0 = time.perf_counter()
    tuned_names = [*SCHEDULES, *GREEDY, *(n for n in PARAM_FREE if METHODS[n].tuned)]
    tune_recs = held_out.tune(task, tuned_names, _records)
    peaks = best_lrs(tune_recs)
    base = {n: peaks[n] if METHODS[n].tuned else METHODS[n].default for n in [*SCHEDULES, *GREEDY, *PARAM_FREE]}
    recs = held_out.run_started(task, _records, base, LIKE_FOR_LIKE)
    best = held_out.best_schedule(recs, SCHEDULES, "final_loss")
    peak = base[best]
    lrecs = held_out.run_started(task, _records, {"learned": peak}, ("learned",))
    return {
        "task": task.name,
        "best": best,
        "peak": peak,
        "tuned": base,
        "edge": edge_choices(tune_recs),
        "runs": recs + lrecs,
        "tune_runs": len(tune_recs),
        "seconds": time.perf_counter() - t0,
    }


def summarize(res: dict[str, Any]) -> dict[str, Any]:
    """Medians, ratios and the two target decisions for one task."""
    runs = res["runs"]

    def med(name: str, mult: float | None = 1.0) -> float:
        return held_out.median_loss(runs, name, mult, "final_loss")

    learned = med("learned", None)
    best = med(res["best"])
    others = {n: med(n) for n in (*GREEDY, *PARAM_FREE)}
    return {
        "best": best,
        "learned": learned,
        "ratio": learned / best,
        "per_mult": [med("learned", k) for k in MULTS],
        "schedules": {n: med(n) for n in SCHEDULES},
        "others": others,
        "pooled": {n: med(n, None) for n in LIKE_FOR_LIKE},
        "target_a": bool(learned <= held_out.WITHIN * best),
        "target_b": bool(all(learned < v for v in others.values())),
        "acc": _acc(runs),
    }


def _acc(runs: list[dict[str, Any]]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for n in dict.fromkeys(r["scheduler"] for r in runs):
        sel = [r for r in runs if r["scheduler"] == n and (n == "learned" or r["mult"] == 1.0)]
        vals = [r["acc"] for r in sel if r["acc"] is not None]
        out[n] = float(np.median(vals)) if vals else None
    return out


def report(results: dict[str, dict[str, Any]], sums: dict[str, dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    lines = [
        "## Fresh held-out tasks (pre-registered: `learned_protocol.md`)",
        "",
        f"Generated by `{meta['command']}` in {meta['seconds']:.0f} s. Policy `{meta['policy']}`, sha256 "
        f"`{meta['sha256']}`. 1,000 steps, minibatch 32, 2 tuning seeds, {meta['seeds']} evaluation seeds; the learned "
        "controller starts at the tuned best schedule's peak LR x {1/10, 1/3, 1, 3, 10} (40 runs per task).",
        "",
        "### Median final training loss: learned controller vs the tuned best schedule (target A)",
        "",
        "| task | tuned best schedule | learned, pooled (ratio) | x1/10 | x1/3 | x1 | x3 | x10 | within 10%? |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, s in sums.items():
        r = results[name]
        lines.append(
            f"| {name} | {r['best']} @ {fmt(r['peak'])}: {fmt(s['best'])} | {fmt(s['learned'])} ({s['ratio']:.2f}x) | "
            + " | ".join(fmt(v) for v in s["per_mult"])
            + f" | {'yes' if s['target_a'] else 'no'} |"
        )
    n_a = sum(s["target_a"] for s in sums.values())
    n_b = sum(s["target_b"] for s in sums.values())
    lines += [
        "",
        f"**Target A** (within 10% of the tuned best schedule on >= 3 of 4): met on {n_a} of {len(sums)} tasks "
        f"-> {'MET' if n_a >= 3 else 'NOT MET'}.",
        "",
        *held_out.schedule_table(results, sums, SCHEDULES),
        "",
        "### Against GreedyLR (at its tuned LR) and the parameter-free optimizers (target B)",
        "",
        "| task | learned (pooled) | " + " | ".join((*GREEDY, *PARAM_FREE)) + " | learned beats all? |",
        "|---|---:|" + "---:|" * (len(GREEDY) + len(PARAM_FREE)) + "---|",
    ]
    for name, s in sums.items():
        lines.append(
            f"| {name} | {fmt(s['learned'])} | "
            + " | ".join(fmt(s["others"][n]) for n in (*GREEDY, *PARAM_FREE))
            + f" | {'yes' if s['target_b'] else 'no'} |"
        )
    lines += [
        "",
        f"**Target B** (beats both GreedyLR settings and every parameter-free optimizer on >= 3 of 4): met on "
        f"{n_b} of {len(sums)} tasks -> {'MET' if n_b >= 3 else 'NOT MET'}.",
        "",
        "### Secondary, like for like: each method started at its tuned LR x {1/10, ..., 10} (pooled median, 40 runs)",
        "",
        "| task | learned | " + " | ".join(LIKE_FOR_LIKE) + " |",
        "|---|---:|" + "---:|" * len(LIKE_FOR_LIKE),
    ]
    for name, s in sums.items():
        lines.append(
            f"| {name} | {fmt(s['learned'])} | " + " | ".join(fmt(s["pooled"][n]) for n in LIKE_FOR_LIKE) + " |"
        )
    lines += [
        "",
        held_out.edge_note(results),
        "",
        "![LR trajectories on the fresh tasks](learned_fresh_lr.png)",
        "",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", default=POLICY)
    ap.add_argument("--smoke", action="store_true", help="40-step runs, 2 seeds, first grid LRs only (plumbing)")
    ap.add_argument("--out", default=None, help="output path without extension (default: results/learned_fresh)")
    args = ap.parse_args(argv)
    if args.out is None:
        args.out = os.path.join("/tmp" if args.smoke else os.path.join(HERE, "results"), "learned_fresh")
    with open(args.policy, "rb") as fh:
        raw = fh.read()
    policy = LearnedLR.from_config(json.loads(raw)["config"])
    register(Method("learned", "controller", jax=lambda task: dataclasses.replace(policy, budget=task.steps)))
    tasks = dict(FRESH)
    if args.smoke:
        tasks = {
            n: dataclasses.replace(t, steps=40, lr_grid=t.lr_grid[:2], eval_seeds=(0, 1), min_batch=32)
            for n, t in tasks.items()
        }
    t0 = time.perf_counter()
    results = held_out.run_tasks(tasks, lambda task: evaluate(task, policy))
    sums = {n: summarize(r) for n, r in results.items()}
    cmd = "python benchmarks/learned_fresh.py" + (" --smoke" if args.smoke else "")
    meta = {
        "command": cmd,
        "seconds": time.perf_counter() - t0,
        "policy": os.path.relpath(args.policy, os.path.join(HERE, "..")),
        "sha256": hashlib.sha256(raw).hexdigest(),
        "seeds": len(next(iter(tasks.values())).eval_seeds),
    }
    lines = report(results, sums, meta)
    held_out.plot(results, args.out + "_lr.png", "learned", "learned")
    held_out.write(lines, results, sums, meta, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
