"""Choosing ProbeLR's settings (issue 21) on development and validation tasks only, never the held-out ones.

Development: the JAX tasks of the convergence suite (``softmax``, ``mlp``, ``nmf``; reference = the committed
suite results, ``benchmarks/convergence/results/runs.json``). Validation: the four tasks of
``benchmarks/learned_tasks.py`` (used once, by the learned controller's evaluation; reference = its committed
results, ``benchmarks/results/learned_fresh.json``). Each variant starts at the reference's tuned best
schedule's peak LR x {1/10, 1/3, 1, 3, 10}; the score is the pooled median final loss over the evaluation
seeds given, as a ratio to the tuned best schedule's median.

Usage (repository root)::

    python benchmarks/no_tuning_dev.py --seeds 3 [--variants a,b] [--out /tmp/no_tuning_dev.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.convergence.execute import execute
from benchmarks.convergence.methods import METHODS, ROBUSTNESS_MULTIPLIERS, Method, register
from benchmarks.convergence.tasks import TASKS
from benchmarks.convergence.tuning import round_lr
from benchmarks.learned_tasks import FRESH
from benchmarks.no_tuning_tasks import HELD_OUT as FIRST_EDITION
from lrsched.controllers.probe import ProbeLR

HERE = os.path.dirname(os.path.abspath(__file__))
MULTS = ROBUSTNESS_MULTIPLIERS

#: The first settings tried (before ``descent`` existed); the explored variants change them.
_FIRST: dict[str, Any] = {"backoff": 10.0, "rise": 1.5, "blowup": 4.0, "descent": 1.0}
_EXPLORED: dict[str, dict[str, Any]] = {
    "b10": {},
    "b3": {"backoff": 3.0},
    "b2": {"backoff": 2.0},
    "b15": {"backoff": 1.5},
    "b2_r12": {"backoff": 2.0, "rise": 1.2, "blowup": 2.0},
    "b2_s03": {"backoff": 2.0, "smoothing": 0.03},
    "b2_p05": {"backoff": 2.0, "probe": 0.05},
    "b2_d35": {"backoff": 2.0, "decay": 0.35},
    "b15_r12": {"backoff": 1.5, "rise": 1.2, "blowup": 2.0},
    "b1_r12": {"backoff": 1.0, "rise": 1.2, "blowup": 2.0},
    "b15_r12_s03": {"backoff": 1.5, "rise": 1.2, "blowup": 2.0, "smoothing": 0.03},
    "b2_d12": {"backoff": 2.0, "descent": 1.2},
    "b2_r13_d13": {"backoff": 2.0, "rise": 1.3, "blowup": 3.0, "descent": 1.3},
    "b15_r13_d13": {"backoff": 1.5, "rise": 1.3, "blowup": 3.0, "descent": 1.3},
}
#: The first edition's frozen choice (= ``b2_r13_d13``), written out: the second edition's rounds change it.
V1: dict[str, Any] = {
    "probe": 0.1,
    "low": 1.0 / 30.0,
    "high": 300.0,
    "smoothing": 0.05,
    "rise": 1.3,
    "blowup": 3.0,
    "descent": 1.3,
    "arm": 300.0,
    "backoff": 2.0,
    "noise": 0.0,
    "decay": 0.2,
    "shape": "linear",
    "anneal": "end",
    "plateau": "best",
}
#: Second edition (after the first held-out run): arming the rise test on the LR, a noise-scaled backoff, and an
#: anneal over the whole run after the probe.
_SECOND: dict[str, dict[str, Any]] = {
    "v1": {},
    "rex": {"shape": "rex", "anneal": "rest"},
    "cos": {"shape": "cosine", "anneal": "rest"},
    "rex_a1": {"shape": "rex", "anneal": "rest", "arm": 1.0},
    "rex_a1_n1": {"shape": "rex", "anneal": "rest", "arm": 1.0, "noise": 1.0},
    "rex_a1_b1": {"shape": "rex", "anneal": "rest", "arm": 1.0, "backoff": 1.0},
    # round 5: the noise measured in the probe's first window only (rounds up to 4: over the whole probe)
    "v1_a1": {"arm": 1.0},
    "rex_a1_n1s": {"shape": "rex", "anneal": "rest", "arm": 1.0, "noise": 1.0},
    "rex_a1_n2s": {"shape": "rex", "anneal": "rest", "arm": 1.0, "noise": 2.0},
    "wrex50_a1": {"shape": "rex", "anneal": "end", "decay": 0.5, "arm": 1.0},
    "wrex50_a1_n1s": {"shape": "rex", "anneal": "end", "decay": 0.5, "arm": 1.0, "noise": 1.0},
    # round 6: a shorter reach (less overshoot), a longer probe
    "rex_a1_h100": {"shape": "rex", "anneal": "rest", "arm": 1.0, "high": 100.0},
    "rex_a1_h100_b15": {"shape": "rex", "anneal": "rest", "arm": 1.0, "high": 100.0, "backoff": 1.5},
    # round 7: the two best of rounds 5-6 combined; on a plateau (no fall), keep lr0
    "wrex50_a1_h100_b15": {"shape": "rex", "decay": 0.5, "arm": 1.0, "high": 100.0, "backoff": 1.5},
    "wrex50_a1_h100_b15_p": {"shape": "rex", "decay": 0.5, "arm": 1.0, "high": 100.0, "backoff": 1.5, "plateau": "lr0"},
    "rex_a1_h100_b15_p": {
        "shape": "rex",
        "anneal": "rest",
        "arm": 1.0,
        "high": 100.0,
        "backoff": 1.5,
        "plateau": "lr0",
    },
    # round 8: the plateau fallback only where the probe ran to its end (round 7: early blow-ups at x10 took lr0)
    "rex_a1_h100_b15_pe": {
        "shape": "rex",
        "anneal": "rest",
        "arm": 1.0,
        "high": 100.0,
        "backoff": 1.5,
        "plateau": "end",
    },
}
#: The variants compared (ProbeLR keyword arguments besides budget). ``default``: ProbeLR's defaults, the
#: frozen choice.
VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "p15": V1 | {"probe": 0.15},
    "p20": V1 | {"probe": 0.2},
    **{n: V1 | _FIRST | kw for n, kw in _EXPLORED.items()},
    **{n: V1 | kw for n, kw in _SECOND.items()},
}


def references() -> dict[str, tuple[Any, str, float, float]]:
    """task name -> (task, tuned best schedule, its peak LR, its median final loss on the evaluation seeds)."""
    from benchmarks.learned_eval import _suite

    out: dict[str, tuple[Any, str, float, float]] = {}
    for name in ("softmax", "mlp", "nmf"):
        suite = _suite(name)
        sched = {n: e for n, e in suite.items() if n in METHODS and METHODS[n].kind == "schedule"}
        best = min(sched, key=lambda n: float(np.median(sched[n]["final"])))
        out[name] = (TASKS[name], best, float(sched[best]["peak"]), float(np.median(sched[best]["final"])))
    with open(os.path.join(HERE, "results", "learned_fresh.json"), encoding="utf-8") as fh:
        fresh = json.load(fh)["tasks"]
    for name, r in fresh.items():
        out[name] = (FRESH[name], r["best"], float(r["peak"]), float(r["summary"]["best"]))
    with open(os.path.join(HERE, "results", "no_tuning_v1.json"), encoding="utf-8") as fh:
        first = json.load(fh)["tasks"]  # the first edition's held-out tasks, used once: validation now
    for name, r in first.items():
        out[name] = (FIRST_EDITION[name], r["best"], float(r["peak"]), float(r["summary"]["best"]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--tasks", default="")
    ap.add_argument("--out", default="/tmp/no_tuning_dev.json")
    args = ap.parse_args(argv)
    names = args.variants.split(",")
    for v in names:
        register(Method(f"probe_{v}", "controller", jax=lambda task, kw=VARIANTS[v]: ProbeLR(budget=task.steps, **kw)))
    refs = references()
    if args.tasks:
        refs = {k: refs[k] for k in args.tasks.split(",")}
    seeds = tuple(range(args.seeds))
    out: dict[str, Any] = {}
    for tname, (task, best, peak, ref) in refs.items():
        t0 = time.perf_counter()
        plan = {f"probe_{v}": [round_lr(peak * k) for k in MULTS] for v in names}
        rows = execute(task, seeds, plan)
        res = {}
        for v in names:
            finals = {}
            for n, lr, _seed, o in rows:
                if n == f"probe_{v}":
                    f = float(np.asarray(o["eval"])[-1])
                    finals.setdefault(lr, []).append(f if np.isfinite(f) else np.inf)
            pooled = float(np.median([x for xs in finals.values() for x in xs]))
            per = [float(np.median(finals[lr])) / ref for lr in sorted(finals)]
            res[v] = {"ratio": pooled / ref, "per_mult": per}
        out[tname] = {"best": best, "peak": peak, "ref": ref, "variants": res}
        line = "  ".join(f"{v}={res[v]['ratio']:.3f}" for v in names)
        print(f"{tname} ({best} @ {peak:g}: {ref:.4g}) [{time.perf_counter() - t0:.0f} s]  {line}", flush=True)
    print("\nratio to the tuned best schedule (pooled median); per multiplier x0.1 .. x10:")
    for v in names:
        rs = [out[t]["variants"][v]["ratio"] for t in out]
        within = sum(r <= 1.10 for r in rs)
        per = " ".join(f"{t}:{'/'.join(f'{x:.2f}' for x in out[t]['variants'][v]['per_mult'])}" for t in out)
        print(f"{v:10s} within10%={within}/{len(rs)} geomean={np.exp(np.mean(np.log(rs))):.3f} {per}")
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
