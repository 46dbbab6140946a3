"""Part 2: minibatch noise that reaches the gradient *and* the scheduler, on real data (sklearn digits).

Every method of :mod:`benchmarks.convergence.methods` runs on every task. A method with an LR to tune gets
the same budget as every other: its peak (or initial) LR is picked by the median final training loss over
the task's tuning seeds from a grid that widens until the choice is interior (:mod:`.tuning`); then it
runs on the task's fresh evaluation seeds at that LR. A parameter-free optimizer runs at its recommended
settings, untuned. Every adaptive method (controllers, optimizers) and the reference schedule also run at
their LR times 1/10, 1/3, 3 and 10 (``stage="robust"``): robustness to an untuned starting LR.
GreedyLR is fed the minibatch loss of each step (the noisy signal a training loop has).

Example:
    >>> recs, curves = run_noisy(smoke=True, show_progress=False, tasks=["softmax"])
    >>> {r["stage"] for r in recs} == {"tune", "eval", "robust"}
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from benchmarks.convergence.execute import execute
from benchmarks.convergence.methods import METHODS, REFERENCE_SCHEDULE, ROBUSTNESS_MULTIPLIERS, Method
from benchmarks.convergence.tasks import TASKS, Task
from benchmarks.convergence.tuning import MAX_ROUNDS, best_lrs, round_lr, tune
from benchmarks.convergence.util import progress_bar, thin

__all__ = ["PROTOCOL", "curves_of", "methods_for", "run_noisy", "steps_to_target"]


def methods_for(task: Task) -> list[Method]:
    """The registered methods that run on ``task`` (on the PyTorch task: those with a port that imports)."""
    return [m for m in METHODS.values() if (m.jax_available() if task.framework == "jax" else m.torch_available())]


def _record(task: Task, stage: str, name: str, lr: float, seed: int, r: dict[str, Any]) -> dict[str, Any]:
    ev = np.asarray(r["eval"], float)
    rec = {
        "part": "noisy",
        "task": task.name,
        "stage": stage,
        "scheduler": name,
        "kind": METHODS[name].kind,
        "peak_lr": lr,
        "seed": seed,
        "final_loss": float(ev[-1]) + 0.0 if np.isfinite(ev[-1]) else None,  # + 0.0: no -0.0
        "heldout_acc": None if np.isnan(r["acc"]) else float(r["acc"]),
        "eval_every": task.eval_every,
        "train_loss_curve": thin(ev, 1),
    }
    if stage == "eval":  # the full curves of the evaluation runs (tuning and robustness runs: the loss only)
        rec |= {"lr_curve": thin(r["lr"]), "minibatch_loss_curve": thin(r["loss"])}
    return rec


def _tune(task: Task, methods: list[Method], rounds: int) -> list[dict[str, Any]]:
    """Tuning runs on the starting grids, then widening rounds until every choice is interior."""
    plan = {m.name: list(m.start_grid(task)) for m in methods if m.tuned}
    return tune(plan, lambda p: [_record(task, "tune", *row) for row in execute(task, task.tune_seeds, p)], rounds)


def _multipliers(m: Method) -> tuple[float, ...]:
    robust = (m.adaptive and m.scalable) or m.name == REFERENCE_SCHEDULE
    return ROBUSTNESS_MULTIPLIERS if robust else (1.0,)


def _evaluate(task: Task, methods: list[Method], base: dict[str, float]) -> list[dict[str, Any]]:
    """Each method at its base LR on the evaluation seeds, and at the robustness multiples of it."""
    mult = {(m.name, round_lr(base[m.name] * k)): k for m in methods for k in _multipliers(m)}
    robust = task.robust_seeds or task.eval_seeds
    if robust == task.eval_seeds:  # one batch per method
        plans = [(task.eval_seeds, {m.name: [round_lr(base[m.name] * k) for k in _multipliers(m)] for m in methods})]
    else:
        plans = [(task.eval_seeds, {m.name: [base[m.name]] for m in methods})]
        plans.append(
            (robust, {m.name: [round_lr(base[m.name] * k) for k in _multipliers(m) if k != 1] for m in methods})
        )
    recs = []
    for seeds, plan in plans:
        for name, lr, seed, r in execute(task, seeds, plan):
            k = mult[(name, lr)]
            rec = _record(task, "eval" if k == 1 else "robust", name, lr, seed, r)
            recs.append(rec | {"multiplier": k, "base_lr": base[name], "lr_source": _source(METHODS[name])})
    return recs


def _source(m: Method) -> str:
    return "tuned" if m.tuned else "recommended"


def steps_to_target(recs: list[dict[str, Any]], baseline: Sequence[dict[str, Any]] = ()) -> None:
    """Target: the median final training loss of the constant-LR baseline (eval seeds); steps in place.

    The constant LR's runs are taken from ``recs``, else from ``baseline`` (earlier records, when only some methods
    run); without any, the target and the steps are None.
    """
    ran = {r["scheduler"] for r in recs}
    for task in dict.fromkeys(r["task"] for r in recs):
        ev = [r for r in recs if r["task"] == task and r["stage"] == "eval"]
        pool = [*recs, *(r for r in baseline if r["scheduler"] not in ran)]
        base = [r for r in pool if r["task"] == task and r["stage"] == "eval" and r["scheduler"] == "constant"]
        consts = [np.inf if r["final_loss"] is None else r["final_loss"] for r in base]
        target = float(np.median(consts)) if consts else None
        for r in ev:
            curve = np.array([np.inf if v is None else v for v in r["train_loss_curve"]])
            hit = np.flatnonzero(curve <= target) if target is not None else np.array([], int)
            r["target_loss"] = target
            r["steps_to_target"] = int((hit[0] + 1) * r["eval_every"]) if hit.size else None


def _smoke(task: Task) -> Task:
    steps = 20 if task.framework == "torch" else 40
    return dataclasses.replace(
        task,
        steps=steps,
        lr_grid=task.lr_grid[:2],
        eval_seeds=task.eval_seeds[:2],
        eval_every=10,
        robust_seeds=None,
        min_batch=32,  # one compiled function per method: 40-step runs cost nothing, compiling does
    )


def curves_of(recs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, np.ndarray]]:
    """Evaluation-stage loss and LR curves per (task, method), for the plots."""
    out: dict[tuple[str, str], dict[str, list]] = {}
    for r in recs:
        if r["stage"] == "eval":
            c = out.setdefault((r["task"], r["scheduler"]), {"loss": [], "lr": []})
            c["loss"].append([np.nan if v is None else v for v in r["train_loss_curve"]])
            c["lr"].append([np.nan if v is None else v for v in r["lr_curve"]])
    arrays = {k: {kk: np.array(vv, float) for kk, vv in v.items()} for k, v in out.items()}
    every = {r["task"]: r["eval_every"] for r in recs}
    for (tname, _), c in arrays.items():  # the training loss is recorded every eval_every steps
        c["loss_steps"] = (np.arange(c["loss"].shape[1]) + 1) * every[tname]
        c["lr_steps"] = np.arange(c["lr"].shape[1]) * 10
    return arrays


def run_noisy(
    smoke: bool = False,
    show_progress: bool = True,
    tasks: list[str] | None = None,
    methods: list[str] | None = None,
    baseline: Sequence[dict[str, Any]] = (),
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, np.ndarray]]]:
    """Tune, then evaluate every method (or those named in ``methods``) on every task; records and curves.

    Each method is tuned and evaluated on its own (same seeds, same grids, whatever else runs), so the runs of
    some methods merge with earlier runs of the others; ``baseline``: those earlier records, for the target loss
    of the constant LR when ``methods`` leaves it out.
    """
    names = (["softmax", "cnn"] if smoke else list(TASKS)) if tasks is None else tasks
    recs: list[dict[str, Any]] = []
    with progress_bar(2 * len(names), "part 2 (noisy, real data)", show_progress) as tick:
        for tname in names:
            task = _smoke(TASKS[tname]) if smoke else TASKS[tname]
            chosen = [m for m in methods_for(task) if methods is None or m.name in methods]
            tune_recs = _tune(task, chosen, 1 if smoke else MAX_ROUNDS) if chosen else []
            tick()
            peaks = best_lrs(tune_recs)
            base = {m.name: peaks[m.name] if m.tuned else m.default for m in chosen}
            recs += tune_recs + (_evaluate(task, chosen, base) if chosen else [])
            tick()
    steps_to_target(recs, baseline)
    return recs, curves_of(recs)


PROTOCOL = """\
## Part 2: minibatch noise and real data

The paper's noise never reaches the optimizer or the scheduler. Here it does: every step draws a
minibatch of 32 from 1,200 training digits (sklearn's bundled 8x8 digits; 597 held out), the gradient
is the minibatch gradient, and GreedyLR is fed the minibatch loss. Tasks: softmax regression with an
L2 penalty of 1e-3 on the weights (about scikit-learn's default C = 1; without it the separable digits
give a loss with no minimum, which underflowed to 0 at the Adam LRs of 30-300 a widened grid reached),
a 64-128-10 MLP (Adam) and a rank-10 NMF of the digits matrix by projected SGD (factors clipped at 0
after each step), 1,200 steps (32 epochs) each, in JAX; and a small CNN (two 3x3 conv layers, 16 and 32
channels) in PyTorch, 400 steps with Adam, scheduled through `lrsched.adapters.torch` (`schedule_lr`,
`GreedyLRScheduler`, `ControllerScheduler`).

**Tuning budget (same for every method with an LR):** the peak LR (initial LR for exponential, step
and GreedyLR) is chosen by the median final training loss over 2 tuning seeds, from a grid that starts
at softmax: 0.03 ... 3; MLP: 0.003 ... 0.1; NMF: 0.3, 1, 3; CNN: 0.003, 0.01, 0.03 (half-decade steps) and
widens, method by method, one half-decade step beyond any choice at an end of its grid, for up to 4
rounds: until the choice has a tried LR on each side (possibly one that diverged). The chosen LR then
runs on 8 fresh seeds (a seed draws the initialisation and the minibatch order). The PyTorch CNN steps
in Python, one run at a time, so it gets a smaller budget: 1 tuning seed, 4 evaluation seeds.
Every run, tuning runs included, is in `runs.json`.
Schedules: constant; step (x0.1 at 50% and 75%); exponential (to 1% at the end); cosine (to 0);
warmup (5%) + cosine; WSD (5% warmup, 1-sqrt decay over the last 20%); one-cycle; REX.
GreedyLR bounds: [1/1000, 10] x its starting LR (relative, so that no bound carries tuning information
into the robustness runs). "greedy" = the reference rules with the reference defaults (factor 0.95,
patience 10, absolute threshold 1e-6, no smoothing, no cooldown);
"greedy_robust" = the same controller deciding on a smoothed signal: window 50, relative threshold 1e-3,
patience 50, cooldown = warm-up = 50, factor 0.5. "greedy_on_warmup_cosine" = `lrsched.GreedyOn`: the
warmup + cosine schedule times a multiplier in [0.1, 2] driven by the same robust controller, listening
after the warmup (the torch task: `GreedyLRScheduler(base=..., start_step=...)`).

**The other adaptive methods** (settings fixed before the runs, from the papers or the library's defaults;
the LR tuned like every other method's; robustness runs as for every adaptive method). Controllers that read
more than the loss get their signals from the library's adapters, as a user would: in JAX
`lrsched.adapters.optax.controlled(direction, controller, init_lr=...)` (each run's starting LR traced,
so one compiled function runs all of a method's LRs), on the CNN `ControllerScheduler`.
"hypergradient" = `lrsched.Hypergradient`, additive rule, with Baydin et al.'s step sizes for the task's
optimizer: beta = 1e-7 (Adam-HD: softmax, MLP, CNN) and 1e-3 (SGD-HD: NMF); "hypergradient_mult" = the
multiplicative (normalised) rule with beta = 0.02 (at most 2% LR change per step; the paper reports no tuned
value for it). "abel" = `lrsched.ABEL(factor=0.1, interval=37, total_steps=steps)`: x0.1 when the weight
norm, sampled once per epoch (37 updates) as in the paper, bounces, plus the paper's final x0.1 at 85% of the
budget. "taso" = `lrsched.taso(peak, steps)` at the library's defaults (the first author's main experiments: a logistic
from the peak to a floor of 0.001 x the peak, steepness 25, centred at 70% of the budget: 99.3% of the peak at
50%, 50% at 70%, 0.8% at 90%).
"eigencurve" = `lrsched.eigencurve` with lr(0) = the peak and
phases from `eigencurve_phases` for a spectrum fixed a priori, not estimated on the tasks: the skewed power
law the paper analyses, lambda_i = L i^-2 for i = 1..100 (condition number 10^4); over 1,200 steps this keeps
96% of the peak at 25% of the budget, 86% at half, 51% at 75%, 2% at the end. "lrtuner" = `lrsched.LRTuner`, a
look-ahead tuner after LRTuner (Iyer et al.; not the paper's algorithm, which also picks the search direction and
explore/exploit phases from the loss trend), at its defaults (every 100 updates, try the LR x0.5, x1, x2 for 10
look-ahead updates from a snapshot of model and optimizer, on the run's next minibatches, scored on the minibatch
after them; keep the best): on the CNN only, since its look-ahead needs an eager training loop and the JAX tasks
run each batch of runs as one compiled scan; it costs 4 x 3 x 10 = 120 extra updates per 400-step run (30%), not
charged in the ranking.
**Gap-aware scheduling is not in the suite:** it scales a GAN discriminator's LR by the gap between its loss
and the ideal equilibrium loss, which no supervised task here has; a GAN task would also need its own quality
metric (final training loss does not rank GANs), so it is shown in the GAN test of `tests/test_gap_aware.py`
instead.

**What users pick instead: parameter-free optimizers**, at their authors' recommended settings and not
tuned (that is their promise): Prodigy and D-Adaptation AdamW (LR 1 under the same warmup + cosine),
Mechanic (around the task's own optimizer, Adam or SGD, under warmup + cosine with peak 1), DoG (LR 1,
no schedule), COCOB-Backprop (no LR); in JAX from `optax.contrib`, on the CNN from the authors' PyTorch
packages (`prodigyopt`, `dadaptation`, `mechanic-pytorch`, `dog-optimizer`, `parameterfree`,
`schedulefree`). Schedule-free AdamW has a real LR, so it is tuned like a schedule (on NMF, whose grid
is for SGD, from an Adam grid 0.001 ... 0.03), with a 5% warmup, evaluated at its averaged iterate.
Settings: `benchmarks/convergence/optimizers.py`. They replace the whole optimizer, so on NMF the
Adam-type ones are not projected SGD any more (the projection still follows every step).

**Robustness to an untuned starting LR:** every adaptive method (the GreedyLR settings, the optimizers
with an LR or scale) also runs at its tuned (or recommended) LR times 1/10, 1/3, 3 and 10, on the
evaluation seeds (CNN: 2 of them), and so does warmup + cosine as the fixed-schedule reference.

**Metrics:** final training loss on all 1,200 training samples; held-out accuracy (classifiers);
steps to reach the *target loss* = the median final training loss of the tuned constant LR
(checked every 10 steps, every 50 for the CNN; "-" = not reached). Medians with [min, max] over the
evaluation seeds. Ranks are tie-averaged (equal losses share the mean of their ranks); the 95% intervals
are percentile bootstraps over seeds (each task's seeds resampled, a seed's runs kept together, 2,000
resamples).

**Reading the GreedyLR rows.** Fed a noisy minibatch loss, the reference's raw new-best test rarely
passes once the easy progress is made: a minibatch loss seldom beats the best single minibatch seen so
far. The bad-step counter then fills every `patience + 1` steps and the LR drops by `factor` each time,
a geometric decay that ignores whether training still progresses (in the LR traces the "greedy" curve
runs along the exponential one). "greedy_robust" decides on a 50-step mean with a relative threshold
and waits 50 steps between decisions, so it lowers the LR only when the *smoothed* loss stalls. Its
settings were fixed before these runs, not tuned on them; they are the ones we propose as a default
for per-step minibatch losses (`window` ~ patience ~ cooldown ~ 50, `threshold_mode="rel"`).
Putting that controller on top of warmup + cosine ("greedy_on_warmup_cosine") does not help here: even
on the smoothed loss, 51 steps without a 0.1% improvement come early in a long run, so the multiplier
mostly goes *down*, cutting the high-LR stretch the cosine relies on (see `lr_curve` in `runs.json`).
Nor does GreedyLR make a mis-set starting LR matter less than it does for warmup + cosine: a start 10x
too high costs it as many ranks (robustness table below).

**Reading the rows of the other adaptive methods.** Eigencurve, with its a-priori spectrum, has the best
mean rank over the four tasks (the second-best schedule on the MLP and NMF, behind WSD; mid-field on
softmax), but its interval overlaps those of WSD and warmup + cosine: its late, steep inverse-time drop
behaves like their decays, not better. TASO at the first author's settings (a logistic drop centred at
70% of the budget, steepness 25, to 0.001 x the peak) ranks in the top third overall and beats the tuned
constant on every paired run, near the best schedules on NMF and the MLP, mid-field on softmax and the CNN:
like WSD it holds the peak, then anneals late (from 88% to 12% of the way between 62% and 78% of the
budget). At the co-author's 2019 defaults (centred at mid-budget, steepness 20, to 0), the library's defaults
before, it ranked in the bottom half on every task. Additive hypergradient descent at the paper's
Adam step size (1e-7) moves the LR by about 0.2% in a whole run (see `lr_curve` in `runs.json`), so it is a
tuned constant LR and ranks with one; at SGD's 1e-3 on NMF it moves it by about 1%. The multiplicative rule
does move it (x0.7 to x1.7 on seed 0) and ranks in the top third on NMF and the MLP, but in the bottom
third on softmax and the CNN. ABEL detects no bounce on the MLP and the CNN (norm sampled every 37
updates), so there it is a constant LR with the paper's final x0.1 at 85% (mid-field on the MLP, bottom half
on the CNN); on softmax the norm bounces early under Adam (the LR is down 10x within the first quarter of
the run; bottom half); on NMF it decays 10-1000x from mid-run (mid-field). The look-ahead tuner (lrtuner) on the CNN
halves or doubles its LR every 100 updates on a one-minibatch look-ahead score: its rank has the widest
interval of that task, and it pays 30% more updates. A starting LR 10x off costs these controllers about
as many ranks as it costs warmup + cosine (robustness table below).

**Reading the optimizer rows.** No parameter-free optimizer is good on every task. Mechanic is the
best method on the MLP and the one whose rank moves least when its scale is off, but it is among the
worst on NMF; D-Adaptation's step-size estimate runs away on NMF's projected problem on some seeds;
DoG starts from a tiny first step (`reps_rel` 1e-6) and its 400-step CNN runs end far behind the
others; COCOB ranks in the bottom third on every task. Prodigy tolerates a scale 3-10x too high on the
JAX tasks (not on the CNN) but not one 10x too low: there its estimate never grows and the loss stays
at its initial value. Schedule-free AdamW, with its LR tuned, is the best method on the CNN and second
on the MLP, but its Adam-type updates do poorly on NMF.
"""
