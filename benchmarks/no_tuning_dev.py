"""Choosing ProbeLR's settings (issue 21) on development and validation tasks only, never the held-out ones.

Development: the JAX tasks of the convergence suite (``softmax``, ``mlp``, ``nmf``; reference = the committed
suite results, ``benchmarks/convergence/results/runs.json``). Validation: the four tasks of
``benchmarks/learned_tasks.py`` (used once, by the learned controller's evaluation; reference = its committed
results, ``benchmarks/results/learned_fresh.json``). Each variant starts at the reference's tuned best
schedule's peak LR x {1/10, 1/3, 1, 3, 10}; the score is the pooled median final loss over the evaluation
seeds given, as a ratio to the tuned best schedule's median.

The four held-out editions' tasks (:mod:`benchmarks.no_tuning_tasks`, ``_v2``, ``_v3``, ``_v4``, each used once;
reference = its committed results, ``benchmarks/results/no_tuning_v1.json``, ``no_tuning_v2.json``,
``no_tuning_v3.json``, ``no_tuning_v4.json``) are validation tasks too. The rounds run the JAX tasks only; ``--band``
runs every task.

``--band`` measures what target A demands (no variant is chosen from it): per task, REX, the frozen ProbeLR's
anneal, at the tuned best schedule's peak LR x {1/3, 1/sqrt 3, 1, sqrt 3, 3} (how far the peak may be off and
stay within 10% of the tuned best), and the peak the frozen ProbeLR picks from each mis-set start (replayed
from the run's minibatch losses through the pure controller). Writes ``results/no_tuning_band.{json,md}``.

``--horizon`` measures the premise of a look-ahead that would tune the peak on short restored runs: per task, the
best REX peak of runs of 2%, 5%, 10%, 70%, 90% and 100% of the budget from initialisation (tuned peak x 3**(j/2),
j = -4 .. 4), and the lowest loss REX reaches with 70% and 90% of the budget (what a search or a probe costing 30%
or 10% of it leaves).
Writes ``results/no_tuning_horizon.{json,md}``.

``--shape`` asks whether the anneal's shape, which caps target A even at the right peak (the band study), can be
chosen inside the run: per JAX task, REX and WSD (the suite's schedules) and
:class:`~lrsched.controllers.DecayOnStall` (warmup, hold, and an anneal that begins once the loss stops falling; a
study prototype here when the study ran, shipped since with the same rule), each at the tuned best schedule's peak LR
x {1/sqrt 3, 1, sqrt 3}. Writes ``results/no_tuning_shape.{json,md}``.

``--tournament`` asks whether the peak can be chosen by training several candidates for a few updates and keeping
the winner, its cost charged: per task (the PyTorch one too), from the five mis-set starts,
:func:`benchmarks.no_tuning.tournament_run` (:func:`lrsched.peak_tournament`, then its anneal), the frozen ProbeLR
and :class:`DecayOnStall` from the start LR;
on the held-out editions' tasks also target B's measure against the rivals' committed runs on the same
seeds.
Writes ``results/no_tuning_tournament.{json,md}``.

``--ceiling`` asks what caps the tournament on the validation tasks, its parts priced one at a time: per JAX task, the
tournament's anneal (:class:`DecayOnStall` with the rounds' short warmup) started at the tuned best schedule's peak
LR over the whole budget (a perfect pick that costs nothing), the same over the budget less the losers' share (a
perfect pick that pays what the rounds charge), and the shipped tournament from the five mis-set starts.
Writes ``results/no_tuning_ceiling.{json,md}``.

``--free`` runs the schedule-free tournament (``lrsched.tools.free_tournament``, through ``no_tuning.free_run``) from
the five mis-set starts on every validation task, beside the tournament's ratios from the ceiling study's record.
Writes ``results/no_tuning_free.{json,md}``.

Usage (repository root)::

    python benchmarks/no_tuning_dev.py --seeds 3 [--variants a,b] [--out /tmp/no_tuning_dev.json]
    python benchmarks/no_tuning_dev.py --band --seeds 3
    python benchmarks/no_tuning_dev.py --horizon --seeds 3
    python benchmarks/no_tuning_dev.py --shape --seeds 3
    python benchmarks/no_tuning_dev.py --tournament --seeds 5
    python benchmarks/no_tuning_dev.py --ceiling --seeds 3
    python benchmarks/no_tuning_dev.py --free --seeds 3
"""

from __future__ import annotations

import argparse
import dataclasses
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
from benchmarks.held_out import WITHIN
from benchmarks.learned_tasks import FRESH
from benchmarks.no_tuning_tasks import HELD_OUT as FIRST_EDITION
from benchmarks.no_tuning_tasks_v2 import HELD_OUT_V2 as SECOND_EDITION
from benchmarks.no_tuning_tasks_v3 import HELD_OUT_V3 as THIRD_EDITION
from benchmarks.no_tuning_tasks_v4 import HELD_OUT_V4 as FOURTH_EDITION
from lrsched.controllers import DecayOnStall
from lrsched.controllers.probe import ProbeLR
from lrsched.tools import tournament as tournament_tool

HERE = os.path.dirname(os.path.abspath(__file__))
MULTS = ROBUSTNESS_MULTIPLIERS
#: The held-out editions' committed records and their tasks, each run once on them (validation tasks since).
EDITIONS = (
    ("no_tuning_v1.json", FIRST_EDITION),
    ("no_tuning_v2.json", SECOND_EDITION),
    ("no_tuning_v3.json", THIRD_EDITION),
    ("no_tuning_v4.json", FOURTH_EDITION),
)

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


def references(tasks: str = "", jax_only: bool = False) -> dict[str, tuple[Any, str, float, float]]:
    """task name -> (task, tuned best schedule, its peak LR, its median final loss on the evaluation seeds), for
    the comma-separated ``tasks`` (default: every validation task; ``jax_only``: without the PyTorch ones)."""
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
    for record, edition in EDITIONS:  # each edition's held-out tasks, used once: validation now
        with open(os.path.join(HERE, "results", record), encoding="utf-8") as fh:
            for name, r in json.load(fh)["tasks"].items():
                out[name] = (edition[name], r["best"], float(r["peak"]), float(r["summary"]["best"]))
    if jax_only:
        out = {n: r for n, r in out.items() if r[0].framework != "torch"}
    return {n: out[n] for n in tasks.split(",")} if tasks else out


#: The band's peak multipliers: the tuning grid's step (3x) and half of it.
BAND = (1.0 / 3.0, 3.0**-0.5, 1.0, 3.0**0.5, 3.0)


def _finals(rows: list[tuple[str, float, int, Any]], name: str) -> dict[float, list[float]]:
    """LR -> the final training losses of ``name``'s runs at that LR (a diverged run: inf)."""
    finals: dict[float, list[float]] = {}
    for n, lr, _seed, o in rows:
        if n == name:
            final = float(np.asarray(o["eval"])[-1])
            finals.setdefault(lr, []).append(final if np.isfinite(final) else np.inf)
    return finals


def _median_ratio(values: list[float], ref: float) -> float:
    return float(np.median(values)) / ref


def _command(study: str, seeds: int) -> str:
    """The command that regenerates a study's report, as its report quotes it."""
    return f"`python benchmarks/no_tuning_dev.py --{study} --seeds {seeds}`"


def _write(out: str, record: dict[str, Any], lines: list[str]) -> None:
    """A study's records (``out``.json) and report (``out``.md; the reading is written by hand below it)."""
    with open(out + ".json", "w", encoding="utf-8") as fh:
        json.dump(record, fh, indent=1)
    with open(out + ".md", "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def band(seeds: tuple[int, ...], tasks: str, out: str) -> None:
    """What target A demands of a peak estimate, and what the frozen ProbeLR's estimate gives (module docstring)."""
    from benchmarks import no_tuning

    no_tuning.register_probe()
    res: dict[str, Any] = {}
    for tname, (task, best, peak, ref) in references(tasks).items():
        t0 = time.perf_counter()
        plan = {"rex": [peak * k for k in BAND], "probe": [round_lr(peak * k) for k in MULTS]}
        rows = no_tuning.run_rows(task, seeds, plan)
        rex, probe = _finals(rows, "rex"), _finals(rows, "probe")
        picks: dict[float, list[float]] = {}
        for name, lr, _seed, o in rows:
            if name == "probe":
                controller = no_tuning.frozen_probe(task.steps)
                state = controller.init(lr)
                for loss in np.asarray(o["loss"], dtype=np.float64):
                    state = controller.update(state, float(loss))
                picks.setdefault(lr, []).append(float(state.peak) / peak)
        res[tname] = {
            "best": best,
            "peak": peak,
            "ref": ref,
            "rex": [_median_ratio(rex[lr], ref) for lr in sorted(rex)],
            "probe": _median_ratio([x for xs in probe.values() for x in xs], ref),
            "picks": [float(np.median(picks[lr])) for lr in sorted(picks)],
            "pick_range": [float(min(min(v) for v in picks.values())), float(max(max(v) for v in picks.values()))],
        }
        r = res[tname]
        print(
            f"{tname} ({best} @ {peak:g}) [{time.perf_counter() - t0:.0f} s] rex "
            + "/".join(f"{x:.2f}" for x in r["rex"])
            + f" probe {r['probe']:.2f} picks "
            + "/".join(f"{x:.2f}" for x in r["picks"]),
            flush=True,
        )
    _write(out, {"seeds": len(seeds), "band": BAND, "mults": MULTS, "tasks": res}, band_report(res, len(seeds)))


def band_report(res: dict[str, Any], seeds: int) -> list[str]:
    """The markdown table of :func:`band` (the reading is written by hand below it)."""
    within = [t for t, r in res.items() if min(r["rex"]) <= WITHIN]
    probe_within = [t for t, r in res.items() if r["probe"] <= WITHIN]
    lines = [
        "## What target A demands of a peak estimate (validation tasks only)",
        "",
        f"Generated by {_command('band', seeds)} ({seeds} seeds per cell; the "
        "tuned best schedule's median, the reference, is over the evaluation seeds of the run that tuned it). "
        "Ratios to the tuned best schedule's median final loss. REX: the frozen ProbeLR's anneal, started at the "
        "tuned best schedule's peak LR times each factor, over the whole budget (no probe). ProbeLR: the frozen "
        "controller started at that peak x {1/10, 1/3, 1, 3, 10}, pooled; its picked peak (the LR it anneals "
        "from) is replayed from each run's minibatch losses through the pure controller, as a multiple of the "
        "tuned peak (median over seeds per start).",
        "",
        "| task (tuned best) | REX x1/3 | x1/sqrt3 | x1 | x sqrt3 | x3 | ProbeLR pooled | ProbeLR's peak / tuned peak, "
        "per start x1/10 .. x10 (all runs' range) |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for t, r in res.items():
        cells = " | ".join(fmt_ratio(x) for x in r["rex"])
        picks = " / ".join(f"{x:.2g}" for x in r["picks"])
        lo, hi = r["pick_range"]
        name = f"{t} ({r['best']} @ {r['peak']:g})"
        lines.append(f"| {name} | {cells} | {fmt_ratio(r['probe'])} | {picks} ({lo:.2g} .. {hi:.2g}) |")
    lines += [
        "",
        f"REX at the best of the five peaks (an oracle's choice, no probe cost) is within 10% of the tuned best "
        f"schedule on {len(within)} of {len(res)} tasks; the frozen ProbeLR on {len(probe_within)} of {len(res)}.",
    ]
    return lines


#: The horizons of :func:`horizon` as fractions of the task's budget, and its peak grid (tuned peak x 3**(j/2)).
HORIZONS = (0.02, 0.05, 0.1, 0.7, 0.9, 1.0)
HORIZON_GRID = tuple(3.0 ** (j / 2) for j in range(-4, 5))


def horizon(seeds: tuple[int, ...], tasks: str, out: str) -> None:
    """Whether the best REX peak of a short run from initialisation (a fraction of the budget) is the best peak of
    the whole run: the premise of a look-ahead that tunes the peak on short restored runs (module docstring)."""

    from benchmarks import no_tuning

    res: dict[str, Any] = {}
    for tname, (task, best, peak, ref) in references(tasks).items():
        t0 = time.perf_counter()
        res[tname] = {"best": best, "peak": peak, "argmin": {}, "lowest": {}}
        for frac in HORIZONS:
            steps = max(20, round(frac * task.steps))
            short = dataclasses.replace(task, steps=steps, eval_every=steps)
            finals = _finals(no_tuning.run_rows(short, seeds, {"rex": [peak * k for k in HORIZON_GRID]}), "rex")
            lrs = sorted(finals)
            medians = [_median_ratio(finals[lr], 1.0) for lr in lrs]
            res[tname]["argmin"][str(frac)] = lrs[int(np.argmin(medians))] / peak
            res[tname]["lowest"][str(frac)] = min(medians) / ref  # vs the tuned best schedule over the whole budget
        line = "  ".join(f"{f:g} B: {x:.2f}" for f, x in zip(HORIZONS, res[tname]["argmin"].values()))
        print(f"{tname} ({best} @ {peak:g}) [{time.perf_counter() - t0:.0f} s] {line}", flush=True)
    record = {"seeds": len(seeds), "horizons": HORIZONS, "grid": HORIZON_GRID, "tasks": res}
    _write(out, record, horizon_report(res, len(seeds)))


def horizon_report(res: dict[str, Any], seeds: int) -> list[str]:
    """The markdown table of :func:`horizon` (the reading is written by hand below it)."""
    full = str(HORIZONS[-1])
    lines = [
        "## Does a short run's best peak transfer to the whole run? (validation tasks only)",
        "",
        f"Generated by {_command('horizon', seeds)} ({seeds} seeds per cell). "
        "REX over a run of the given fraction of the task's budget, from initialisation, at the tuned best "
        "schedule's peak LR x 3^(j/2), j = -4 .. 4 (1/9 .. 9); the cell is the peak with the lowest median final "
        "training loss, as a multiple of the tuned best schedule's peak. Within a factor sqrt 3 of the whole "
        "run's best REX peak (the last column): marked with *.",
        "",
        "| task (tuned best) | " + " | ".join(f"{f:g} x budget" for f in HORIZONS) + " |",
        "|---|" + "---:|" * len(HORIZONS),
    ]
    hits = dict.fromkeys(HORIZONS[:-1], 0)  # the short horizons' peaks near the whole run's
    for t, r in res.items():
        cells = []
        for f in HORIZONS:
            x = r["argmin"][str(f)]
            near = f != HORIZONS[-1] and abs(np.log(x / r["argmin"][full])) <= 0.5 * np.log(3.0) + 1e-9
            hits[f] = hits.get(f, 0) + bool(near)
            cells.append(f"{x:.2g}{' *' if near else ''}")
        lines.append(f"| {t} ({r['best']} @ {r['peak']:g}) | " + " | ".join(cells) + " |")
    lines += [
        "",
        "The lowest median final loss of REX over the grid, as a ratio to the tuned best schedule's over the whole "
        "budget (the floor for a method that spends the rest of the budget on a search or a probe):",
        "",
        "| task | " + " | ".join(f"{f:g} x budget" for f in HORIZONS[-3:]) + " |",
        "|---|---:|---:|---:|",
        *(
            f"| {t} | " + " | ".join(fmt_ratio(r["lowest"][str(f)]) for f in HORIZONS[-3:]) + " |"
            for t, r in res.items()
        ),
    ]
    lines += [
        "",
        "Within sqrt 3 of the whole run's best peak: "
        + ", ".join(f"{hits[f]} of {len(res)} at {f:g} x budget" for f in HORIZONS[:-1])
        + ".",
    ]
    return lines


#: The shape study's peak multipliers and its methods (the suite's REX and WSD, and :class:`DecayOnStall`).
SHAPE_BAND = (3.0**-0.5, 1.0, 3.0**0.5)
SHAPES = ("rex", "wsd", "stall")


def _register_stall() -> None:
    """Add :class:`DecayOnStall` to the suite's registry as ``"stall"`` (once): JAX, and PyTorch through
    ``lrsched.adapters.torch.ControllerScheduler``."""
    if "stall" in METHODS:
        return

    def torch_scheduler(task: Any, lr: float) -> Any:
        from lrsched.adapters.torch import ControllerScheduler

        return lambda opt: ControllerScheduler(opt, DecayOnStall(init_lr=lr, budget=task.steps))

    register(Method("stall", "controller", jax=lambda task: DecayOnStall(budget=task.steps), torch=torch_scheduler))


def shape(seeds: tuple[int, ...], tasks: str, out: str) -> None:
    """REX, WSD and :class:`DecayOnStall` at the tuned best schedule's peak x ``SHAPE_BAND`` (module docstring)."""
    _register_stall()
    res: dict[str, Any] = {}
    for tname, (task, best, peak, ref) in references(tasks, jax_only=True).items():
        t0 = time.perf_counter()
        rows = execute(task, seeds, {n: [peak * k for k in SHAPE_BAND] for n in SHAPES})
        res[tname] = {"best": best, "peak": peak, "ref": ref}
        for n in SHAPES:
            finals = _finals(rows, n)
            res[tname][n] = [_median_ratio(finals[lr], ref) for lr in sorted(finals)]
        cells = "  ".join(f"{n} " + "/".join(f"{x:.2f}" for x in res[tname][n]) for n in SHAPES)
        print(f"{tname} ({best} @ {peak:g}) [{time.perf_counter() - t0:.0f} s] {cells}", flush=True)
    _write(out, {"seeds": len(seeds), "band": SHAPE_BAND, "tasks": res}, shape_report(res, len(seeds)))


def shape_report(res: dict[str, Any], seeds: int) -> list[str]:
    """The markdown table of :func:`shape` (the reading is written by hand below it)."""
    names = {"rex": "REX", "wsd": "WSD", "stall": "decay on stall"}
    lines = [
        "## Can the anneal's shape be chosen inside the run? (validation tasks only)",
        "",
        f"Generated by {_command('shape', seeds)} ({seeds} seeds per cell). Each "
        "method at the tuned best schedule's peak LR x {1/sqrt 3, 1, sqrt 3}; ratios of the median final training "
        "loss to the tuned best schedule's. REX and WSD: the suite's schedules (WSD: 5% warmup, 1-sqrt decay over "
        "the last 20%). Decay on stall: `lrsched.controllers.DecayOnStall` (5% warmup, hold, REX over "
        "the rest from the first check, every 5% of the budget, at which the smoothed log loss fell by less than "
        "0.05; at the latest with 20% left). The PyTorch task is left out (the prototype has no torch path here).",
        "",
        "| task (tuned best) | " + " | ".join(f"{names[n]} x1/sqrt3 / x1 / x sqrt3" for n in SHAPES) + " |",
        "|---|" + "---|" * len(SHAPES),
    ]
    for t, r in res.items():
        cells = " | ".join(" / ".join(fmt_ratio(x) for x in r[n]) for n in SHAPES)
        lines.append(f"| {t} ({r['best']} @ {r['peak']:g}) | {cells} |")
    lines.append("")
    for n in SHAPES:
        at_one = sum(r[n][1] <= WITHIN for r in res.values())
        best3 = sum(min(r[n]) <= WITHIN for r in res.values())
        lines.append(
            f"- {names[n]}: within 10% of the tuned best schedule at the tuned peak on {at_one} of {len(res)} tasks; "
            f"at the best of the three peaks on {best3} of {len(res)}."
        )
    return lines


def recorded_rivals(name: str, seeds: tuple[int, ...]) -> dict[str, float] | None:
    """Target B's rivals on a task of a held-out edition (:data:`EDITIONS`): each rival's median final loss over its
    runs on ``seeds`` (all its starts), from the edition's committed records; ``None`` for a task of none."""
    from benchmarks.held_out import median_loss

    for record, _ in EDITIONS:
        with open(os.path.join(HERE, "results", record), encoding="utf-8") as fh:
            tasks = json.load(fh)["tasks"]
        if name in tasks:
            runs = [r for r in tasks[name]["runs"] if r["seed"] in seeds]
            return {rival: median_loss(runs, rival, None, "final") for rival in tasks[name]["summary"]["rivals"]}
    return None


def tournament(seeds: tuple[int, ...], tasks: str, out: str) -> None:
    """The tournament, the frozen ProbeLR and :class:`DecayOnStall` alone, from the five mis-set starts."""
    from benchmarks import no_tuning

    no_tuning.register_probe()
    _register_stall()
    res: dict[str, Any] = {}
    for tname, (task, best, peak, ref) in references(tasks).items():
        t0 = time.perf_counter()
        starts = {k: round_lr(peak * k) for k in MULTS}
        plan = {n: list(starts.values()) for n in ("probe", "stall", "tournament")}
        rows = no_tuning.run_rows(task, seeds, plan)
        r: dict[str, Any] = {"best": best, "peak": peak, "ref": ref}  # runs keyed "start multiplier|seed"
        for n in ("probe", "stall", "tournament"):
            finals = _finals(rows, n)
            r[n] = {f"{k:.3g}|{seed}": finals[lr][i] / ref for k, lr in starts.items() for i, seed in enumerate(seeds)}
        mult = {lr: k for k, lr in starts.items()}
        r["picks"] = {f"{mult[lr]:.3g}|{s}": run["pick"] / peak for n, lr, s, run in rows if n == "tournament"}
        r["rivals"] = recorded_rivals(tname, seeds)
        res[tname] = r
        cells = "  ".join(f"{n} {np.median(list(r[n].values())):.3f}" for n in ("probe", "stall", "tournament"))
        print(f"{tname} ({best} @ {peak:g}) [{time.perf_counter() - t0:.0f} s] {cells}", flush=True)
    record = {"seeds": len(seeds), "grid": tournament_tool.GRID, "rounds": tournament_tool.ROUNDS, "tasks": res}
    _write(out, record, tournament_report(res, len(seeds)))


def tournament_report(res: dict[str, Any], seeds: int) -> list[str]:
    """The markdown tables of :func:`tournament` (the reading is written by hand below them)."""
    names = {"probe": "ProbeLR (frozen)", "stall": "decay on stall from the start", "tournament": "tournament"}
    pooled = {t: {n: float(np.median(list(r[n].values()))) for n in names} for t, r in res.items()}
    lines = [
        "## A tournament of peaks that keeps its winner, from the mis-set starts (validation tasks only)",
        "",
        f"Generated by {_command('tournament', seeds)} ({seeds} seeds). Every method starts at the tuned best "
        "schedule's peak LR x {1/10, 1/3, 1, 3, 10}; each cell is the pooled median (over starts and seeds) of the "
        "final training loss as a ratio to the tuned best schedule's median, target A's measure. The tournament "
        "(`no_tuning.tournament_run`: `lrsched.peak_tournament`, then its anneal): the start LR x {1/9, 1/3, 1, "
        "3, 9} each train 1% of "
        "the budget from the same initialisation (warmup over the first half), the best two by their minibatch loss "
        "go on for 2% more, and the winner keeps its state and runs decay on stall from its LR for the rest; every "
        "candidate's updates are charged to the budget (6% of it goes to the losers). Decay on stall from the "
        "start: `lrsched.controllers.DecayOnStall` at the start LR (5% warmup). On the PyTorch task (`blobs_torch`) "
        "the candidates are copies of the model's and the "
        "optimizer's `state_dict`.",
        "",
        "| task (tuned best) | " + " | ".join(names.values()) + " | tournament per start x1/10 .. x10 | picked LR "
        "(median, x tuned peak) |",
        "|---|" + "---:|" * (len(names) + 2),
    ]
    for t, r in res.items():
        per = [
            fmt_ratio(float(np.median([v for key, v in r["tournament"].items() if key.startswith(f"{k:.3g}|")])))
            for k in MULTS
        ]
        cells = " | ".join(fmt_ratio(pooled[t][n]) for n in names)
        pick = float(np.median(list(r["picks"].values())))
        lines.append(f"| {t} ({r['best']} @ {r['peak']:g}) | {cells} | {' / '.join(per)} | {pick:.2g} |")
    lines.append("")
    for n, label in names.items():
        ratios = np.array([pooled[t][n] for t in res])
        gm = float(np.exp(np.mean(np.log(ratios)))) if np.all(np.isfinite(ratios)) else np.inf
        lines.append(
            f"- {label}: within 10% of the tuned best schedule on {int(np.sum(ratios <= WITHIN))} of {len(res)} "
            f"tasks; geometric mean of the ratios {fmt_ratio(gm)}."
        )
    wins = [
        (r["tournament"][key] < r["probe"][key]) for r in res.values() for key in r["tournament"] if key in r["probe"]
    ]
    lines.append(
        f"- Paired by seed and start, the tournament ends lower than the frozen ProbeLR in {sum(wins)} of "
        f"{len(wins)} runs."
    )
    edition = {t: r for t, r in res.items() if r.get("rivals")}
    if not edition:
        return lines
    lines += [
        "",
        "### Target B's measure, where the rivals' runs are on record",
        "",
        "The tasks of the held-out editions: each rival's pooled median over its committed runs on the same "
        "seeds (Prodigy, Mechanic and D-Adaptation at their recommended settings; schedule-free AdamW, GreedyLR, "
        "robust GreedyLR and, from the second edition on, LRTuner from the same mis-set starts), against the pooled "
        "median of the tournament and of the frozen ProbeLR here (final training loss).",
        "",
        "| task | tournament | ProbeLR (frozen) | rivals | the tournament is not lower than "
        "| ProbeLR is not lower than |",
        "|---|---:|---:|---|---|---|",
    ]
    met = {"tournament": 0, "probe": 0}
    for t, r in edition.items():
        mine = {n: pooled[t][n] * r["ref"] for n in met}
        losing = {n: [k for k, v in r["rivals"].items() if not mine[n] < v] for n in met}
        met = {n: met[n] + (not losing[n]) for n in met}
        rivals = ", ".join(f"{k} {v:.3g}" for k, v in r["rivals"].items())
        cells = " | ".join(", ".join(losing[n]) or "none" for n in met)
        lines.append(f"| {t} | {mine['tournament']:.3g} | {mine['probe']:.3g} | {rivals} | {cells} |")
    lines += [
        "",
        f"Lower than every rival: the tournament on {met['tournament']} of {len(edition)} tasks, the frozen ProbeLR "
        f"on {met['probe']} of {len(edition)}.",
    ]
    return lines


def ceiling(seeds: tuple[int, ...], tasks: str, out: str) -> None:
    """What caps the tournament: its anneal at the tuned peak, with and without the losers' share (docstring)."""
    import jax.numpy as jnp

    from benchmarks import no_tuning
    from benchmarks.convergence.engine import direction
    from benchmarks.convergence.tasks import batches

    res: dict[str, Any] = {}
    for tname, (task, best, peak, ref) in references(tasks, jax_only=True).items():
        t0 = time.perf_counter()
        _, controlled = no_tuning._training_scans(task)
        data = {k: jnp.asarray(v) for k, v in task.data.items()}
        budget = task.steps
        k1, k2 = (max(4, round(f * budget)) for f in tournament_tool.ROUNDS)
        losers = (len(tournament_tool.GRID) - 1) * k1 + (tournament_tool.KEEP - 1) * k2
        warm = k1 // 2  # the rounds' warmup (updates): half of round 1
        r: dict[str, list[float]] = {"free": [], "paid": [], "tournament": []}
        for seed in seeds:
            params = task.init(np.random.default_rng([1, seed]))
            order = jnp.asarray(batches(np.random.default_rng([2, seed]), 1200, budget))
            init = (params, direction(task.optimizer).init(params))
            for key, used in (("free", 0), ("paid", losers)):  # the tournament's anneal, as if it had picked peak
                won = tournament_tool.TournamentResult(None, peak, used, 0, budget, {}, {})
                anneal = dataclasses.replace(won.anneal(), warmup=warm / (budget - used))
                p, _, _ = controlled(*init, data, order[: budget - used], anneal, jnp.float32(peak))
                final = float(task.full_loss(p, data))
                r[key].append(final / ref if np.isfinite(final) else np.inf)
            for k in MULTS:
                final = float(np.asarray(no_tuning.tournament_run(task, round_lr(peak * k), seed)["eval"])[-1])
                r["tournament"].append(final / ref if np.isfinite(final) else np.inf)
        res[tname] = {"best": best, "peak": peak, "ref": ref, "losers": losers / budget}
        res[tname].update({key: float(np.median(v)) for key, v in r.items()})
        cells = "  ".join(f"{key} {res[tname][key]:.2f}" for key in r)
        print(f"{tname} ({best} @ {peak:g}) [{time.perf_counter() - t0:.0f} s] {cells}", flush=True)
    _write(out, {"seeds": len(seeds), "tasks": res}, ceiling_report(res, len(seeds)))


def ceiling_report(res: dict[str, Any], seeds: int) -> list[str]:
    """The markdown table of :func:`ceiling` (the reading is written by hand below it)."""
    names = {
        "free": "anneal at the tuned peak, whole budget",
        "paid": "the same, less the losers' share",
        "tournament": "tournament from the mis-set starts",
    }
    lines = [
        "## What caps the tournament (validation tasks only)",
        "",
        f"Generated by {_command('ceiling', seeds)} ({seeds} seeds). Ratios to the tuned best schedule's median "
        "final loss (target A's measure). The anneal is the tournament's (`TournamentResult.anneal`: "
        "`DecayOnStall` at its defaults), started at the tuned best schedule's peak LR with the rounds' warmup "
        "(half of round 1): over the whole budget it is a perfect pick that costs nothing; over the budget less "
        "the losers' share (the updates the tournament charges to the candidates that lose: 6% of the budget at "
        "the defaults) it is a perfect pick that pays for the rounds. The tournament: `no_tuning.tournament_run` "
        "from the tuned peak x {1/10, 1/3, 1, 3, 10}, pooled (median of seeds x starts).",
        "",
        "| task (tuned best) | " + " | ".join(names.values()) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for t, r in res.items():
        lines.append(f"| {t} ({r['best']} @ {r['peak']:g}) | " + " | ".join(fmt_ratio(r[k]) for k in names) + " |")
    lines.append("")
    for key, label in names.items():
        within = sum(r[key] <= WITHIN for r in res.values())
        lines.append(f"- {label}: within 10% of the tuned best schedule on {within} of {len(res)} tasks.")
    return lines


def free(seeds: tuple[int, ...], tasks: str, out: str) -> None:
    """The schedule-free tournament from the five mis-set starts (module docstring)."""
    from benchmarks import no_tuning

    with open(os.path.join(HERE, "results", "no_tuning_ceiling.json"), encoding="utf-8") as fh:
        before = json.load(fh)["tasks"]
    res: dict[str, Any] = {}
    for tname, (task, best, peak, ref) in references(tasks).items():
        t0 = time.perf_counter()
        ratios, picks = [], []
        for k in MULTS:
            for seed in seeds:
                o = no_tuning.free_run(task, round_lr(peak * k), seed)
                final = float(np.asarray(o["eval"])[-1])
                ratios.append(final / ref if np.isfinite(final) else np.inf)
                picks.append(o["pick"] / peak)
        res[tname] = {"best": best, "peak": peak, "ref": ref, "optimizer": task.optimizer, "ratios": ratios}
        res[tname] |= {"free": float(np.median(ratios)), "pick": float(np.median(picks))}
        res[tname]["tournament"] = before.get(tname, {}).get("tournament", float("nan"))
        res[tname]["rivals"] = recorded_rivals(tname, seeds)  # target B's, where an edition ran them
        print(f"{tname} [{time.perf_counter() - t0:.0f} s] free {res[tname]['free']:.3f}", flush=True)
    _write(out, {"seeds": len(seeds), "tasks": res}, free_report(res, len(seeds)))


def free_report(res: dict[str, Any], seeds: int) -> list[str]:
    """The markdown table of :func:`free` (the reading is written by hand below it)."""
    lines = [
        "## The schedule-free tournament on the validation tasks",
        "",
        f"Generated by {_command('free', seeds)} ({seeds} seeds). Ratios of the pooled median final training "
        "loss (seeds x starts at the tuned best schedule's peak x {1/10, 1/3, 1, 3, 10}) to the tuned best "
        "schedule's median (target A's measure). The method: `lrsched.tools.free_tournament` through "
        "`no_tuning.free_run` (the task's direction without momentum made schedule-free, its LR picked by "
        "`peak_tournament` at its defaults, then constant; the final loss at the average x). The tournament "
        "column: the shipped tournament with its anneal, from `no_tuning_ceiling.json` (the same seeds and starts; "
        "JAX tasks only, `-` where it has none). Target B: the method's pooled median against each rival's on the "
        "same seeds, from the editions' committed records (`recorded_rivals`).",
        "",
        "| task (optimizer; tuned best) | schedule-free tournament | picked LR (x tuned peak) | tournament | "
        "below every target-B rival? |",
        "|---|---:|---:|---:|---|",
    ]
    for t, r in res.items():
        lines.append(
            f"| {t} ({r['optimizer']}; {r['best']} @ {r['peak']:g}) | {fmt_ratio(r['free'])} | {r['pick']:.2g} | "
            f"{fmt_ratio(r['tournament']) if np.isfinite(r['tournament']) else '-'} | {_below_rivals(r)} |"
        )
    lines.append("")
    within = sum(r["free"] <= WITHIN for r in res.values())
    known = [r for r in res.values() if np.isfinite(r["tournament"])]
    lines.append(f"- schedule-free tournament: within 10% of the tuned best schedule on {within} of {len(res)} tasks.")
    lines.append(
        f"- the tournament: within 10% on {sum(r['tournament'] <= WITHIN for r in known)} of {len(known)} tasks "
        f"(where the schedule-free one is on {sum(r['free'] <= WITHIN for r in known)} of them)."
    )
    rivalled = [r for r in res.values() if r.get("rivals")]
    below = sum(_below_rivals(r).startswith("yes") for r in rivalled)
    lines.append(
        f"- below every target-B rival (pooled medians on the same seeds, from the editions' records): on {below} "
        f"of the {len(rivalled)} tasks whose rivals are on record."
    )
    return lines


def _below_rivals(r: dict[str, Any]) -> str:
    """Whether the method's pooled median is below each of target B's rivals on record (which it is not below)."""
    if not r.get("rivals"):
        return "-"
    mine = r["free"] * r["ref"]
    losing = [n for n, v in r["rivals"].items() if not mine < v]
    return "yes" if not losing else "no (" + ", ".join(losing) + ")"


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}" if np.isfinite(x) else "diverged"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--tasks", default="")
    ap.add_argument(
        "--out",
        default=None,
        help="default: /tmp/no_tuning_dev.json (--band, --horizon, --shape, --tournament, --ceiling, --free: "
        "results/no_tuning_<study>)",
    )
    ap.add_argument("--band", action="store_true", help="what target A demands of a peak estimate (docstring)")
    ap.add_argument("--horizon", action="store_true", help="whether a short run's best peak transfers (docstring)")
    ap.add_argument("--shape", action="store_true", help="whether the anneal's start can be chosen in the run")
    ap.add_argument("--tournament", action="store_true", help="a tournament of peaks that keeps its winner")
    ap.add_argument("--ceiling", action="store_true", help="what caps the tournament, its parts priced one by one")
    ap.add_argument("--free", action="store_true", help="the schedule-free tournament from the mis-set starts")
    args = ap.parse_args(argv)
    studies = {
        "band": band,
        "horizon": horizon,
        "shape": shape,
        "ceiling": ceiling,
        "free": free,
        "tournament": tournament,
    }
    for name, study in studies.items():  # each writes results/no_tuning_<name>.{json,md} unless --out says
        if getattr(args, name):
            study(tuple(range(args.seeds)), args.tasks, args.out or os.path.join(HERE, "results", f"no_tuning_{name}"))
            return 0
    args.out = args.out or "/tmp/no_tuning_dev.json"
    names = args.variants.split(",")
    for v in names:
        register(Method(f"probe_{v}", "controller", jax=lambda task, kw=VARIANTS[v]: ProbeLR(budget=task.steps, **kw)))
    refs = references(args.tasks, jax_only=True)  # the rounds run the JAX tasks
    seeds = tuple(range(args.seeds))
    out: dict[str, Any] = {}
    for tname, (task, best, peak, ref) in refs.items():
        t0 = time.perf_counter()
        plan = {f"probe_{v}": [round_lr(peak * k) for k in MULTS] for v in names}
        rows = execute(task, seeds, plan)
        res = {}
        for v in names:
            finals = _finals(rows, f"probe_{v}")
            pooled = float(np.median([x for xs in finals.values() for x in xs]))
            per = [float(np.median(finals[lr])) / ref for lr in sorted(finals)]
            res[v] = {"ratio": pooled / ref, "per_mult": per}
        out[tname] = {"best": best, "peak": peak, "ref": ref, "variants": res}
        line = "  ".join(f"{v}={res[v]['ratio']:.3f}" for v in names)
        print(f"{tname} ({best} @ {peak:g}: {ref:.4g}) [{time.perf_counter() - t0:.0f} s]  {line}", flush=True)
    print("\nratio to the tuned best schedule (pooled median); per multiplier x0.1 .. x10:")
    for v in names:
        rs = [out[t]["variants"][v]["ratio"] for t in out]
        within = sum(r <= WITHIN for r in rs)
        per = " ".join(f"{t}:{'/'.join(f'{x:.2f}' for x in out[t]['variants'][v]['per_mult'])}" for t in out)
        print(f"{v:10s} within10%={within}/{len(rs)} geomean={np.exp(np.mean(np.log(rs))):.3f} {per}")
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
