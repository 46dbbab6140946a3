"""Part 3: a character-level language model, where the annealing practice comes from.

Warmup-stable-decay (WSD) and "anneal on your best data" come from language-model pretraining. This part
tests them there, with nothing downloaded: a ~115k-parameter transformer
(:mod:`benchmarks.convergence.lm_model`) trained on the standard library's docstrings and comments
(:mod:`benchmarks.convergence.lm_data`) as a web-like mix (30% corrupted lines), with a small clean
"high-quality" subset, and measured on held-out clean text in bits per character.

Arms (every one on the same step budget, each at its own tuned peak LR):

* ``cosine``: warmup (5%) + cosine to 0, on the mix;
* ``wsd``: warmup (5%), stable, 1-sqrt decay over the last 20%, on the mix;
* ``wsd_anneal_clean``: the same schedule as named phases (``lrsched.phases``); the training loop asks
  ``schedule.phase_at(step)`` and draws the anneal phase's batches from the clean subset;
* ``wsd_clean_in_stable`` (control): the same clean sequences mixed into the warmup and stable phases
  instead (as many clean windows in all, spread evenly), the anneal on the mix; so the anneal-on-clean
  effect is measured beyond what the clean data gives at any time;
* the best-ranked LR controller of part 2 (:func:`best_controller`), on the mix.

Tuning: the peak LR of every arm from ``GRID`` (widening as in part 2) by the validation bits per
character of ``TUNE_SEEDS``; then ``EVAL_SEEDS`` fresh seeds (initialisation and batch order). Adam
(torch defaults) with the gradient's global norm clipped at 1.

Example:
    >>> recs, curves = run_lm(smoke=True, show_progress=False, adaptive="greedy")
    >>> sorted({r["scheduler"] for r in recs}) == sorted([*ARMS, "greedy"])
    True
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

import numpy as np

import lrsched
from benchmarks.convergence import lm_model as M
from benchmarks.convergence.lm_data import corpus
from benchmarks.convergence.tuning import MAX_ROUNDS, best_lrs, tune
from benchmarks.convergence.util import progress_bar, stack, thin

__all__ = [
    "ARMS",
    "DEFAULT_ADAPTIVE",
    "EVAL_SEEDS",
    "GRID",
    "STEPS",
    "TUNE_SEEDS",
    "batch_plan",
    "best_controller",
    "run_lm",
    "wsd_phases",
]

STEPS, WARMUP, DECAY = 1000, 50, 200
GRID = (1e-3, 3e-3, 1e-2)
TUNE_SEEDS, EVAL_SEEDS = (100,), (0, 1, 2, 3, 4)
EVAL_EVERY = 250  # validation curve points (on VALID_CURVE windows)
VALID_CURVE, VALID, TEST = 256, 512, 1024  # held-out windows of SEQ + 1 characters
_DATA = {"cosine": "mix", "wsd": "mix", "wsd_anneal_clean": "anneal_clean", "wsd_clean_in_stable": "clean_in_stable"}
ARMS = tuple(_DATA)  # and the adaptive arm: the best-ranked LR controller of part 2 (see ``best_controller``)
DEFAULT_ADAPTIVE = "greedy_robust"  # where no part-2 results exist to pick from


def wsd_phases(peak: float, steps: int = STEPS, warmup: int = WARMUP, decay: int = DECAY) -> lrsched.Schedule:
    """WSD as three named phases, ``warmup``, ``stable`` and ``anneal`` (equal to ``lrsched.wsd`` step by step)."""
    return lrsched.phases(
        ("warmup", lrsched.linear(0.0, peak, warmup), warmup),
        ("stable", lrsched.constant(peak), steps - warmup - decay),
        ("anneal", lrsched.wsd(peak, decay, decay_steps=decay), None),
    )


def _schedule(arm: str, peak: float, steps: int) -> lrsched.Schedule:
    if arm == "cosine":
        return lrsched.warmup(lrsched.cosine_decay(peak, steps - steps // 20), warmup_steps=steps // 20)
    return wsd_phases(peak, steps, steps // 20, steps // 5)


def batch_plan(
    rng: np.random.Generator, schedule: lrsched.Schedule, mode: str, steps: int, sizes: tuple[int, int]
) -> np.ndarray:
    """``(steps, BATCH)`` window starts into ``mix ++ clean`` (``sizes``: their lengths) for data ``mode``.

    ``"mix"``: every window from the mix; ``"anneal_clean"``: the windows of steps whose phase
    (``schedule.phase_at``) is ``"anneal"`` from the clean subset; ``"clean_in_stable"``: as many clean
    windows in all, spread evenly over the steps before the anneal, the anneal on the mix.
    """
    n_mix, n_clean = sizes[0] - M.SEQ - 1, sizes[1] - M.SEQ - 1
    phases = [schedule.phase_at(t) if mode != "mix" else "" for t in range(steps)]
    anneal = phases.count("anneal")
    before = steps - anneal
    out = np.empty((steps, M.BATCH), np.int64)
    for t, phase in enumerate(phases):
        if mode == "anneal_clean":
            k = M.BATCH if phase == "anneal" else 0
        elif mode == "clean_in_stable" and phase != "anneal":
            k = (t + 1) * anneal * M.BATCH // before - t * anneal * M.BATCH // before
        else:
            k = 0
        out[t, : M.BATCH - k] = rng.integers(0, n_mix, M.BATCH - k)
        out[t, M.BATCH - k :] = sizes[0] + rng.integers(0, n_clean, k)
    return out


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    c = corpus()

    def wins(text: np.ndarray, n: int) -> np.ndarray:
        k = min(n, (len(text) - 1) // (M.SEQ + 1))
        return text[: k * (M.SEQ + 1)].reshape(k, M.SEQ + 1)

    return {
        "train": np.concatenate([c.splits["web"], c.splits["hq"]]),
        "sizes": (len(c.splits["web"]), len(c.splits["hq"])),
        "valid": wins(c.splits["valid"], VALID),
        "test": wins(c.splits["test"], TEST),
        "sha256": c.sha256,
    }


def _valid_curve(params: Any, data: Any) -> Any:
    return M.bits_per_char(params, data["valid_curve"])


@functools.cache
def _compiled(key: str, steps: int) -> Any:
    from benchmarks.convergence.engine import runner
    from benchmarks.convergence.methods import METHODS

    ctrl = None if key == "schedules" else METHODS[key].jax(types.SimpleNamespace(steps=steps, lr_grid=GRID))
    return runner(M.loss, ctrl, "adam_clip", None, _valid_curve, min(EVAL_EVERY, steps), data_axis=None)


@functools.lru_cache(maxsize=1)
def _heldout() -> Callable[[Any, Any], Any]:
    import jax

    return jax.jit(jax.vmap(M.bits_per_char, in_axes=(0, None)))


def _execute(
    plan: dict[str, list[float]], seeds: tuple[int, ...], steps: int, unit: int
) -> list[tuple[str, float, int, dict]]:
    """``(arm, peak, seed, outputs)`` of every arm of ``plan`` at each of its peaks on each seed.

    A batch of runs is padded (with copies of its first run) to a multiple of ``unit`` runs, so tuning
    and evaluation batches (arms x grid x tuning seeds = arms x evaluation seeds) share one compiled function.
    """
    d = _data()
    data = {"train": d["train"], "valid_curve": d["valid"][: VALID_CURVE if steps == STEPS else 8]}
    out = []
    groups = [("schedules", [(a, p) for a, ps in plan.items() if a in _DATA for p in ps])]
    groups += [(a, [(a, p) for p in ps]) for a, ps in plan.items() if a not in _DATA]
    for key, runs in groups:
        if not runs:
            continue
        rows = [(a, p, s) for a, p in runs for s in seeds]
        n = len(rows)
        rows += rows[:1] * (-n % unit)
        scheds = {(a, p): _schedule(a, p, steps) for a, p in runs}
        params = stack([M.init(np.random.default_rng([1, s])) for _, _, s in rows])
        plans = [
            batch_plan(np.random.default_rng([2, s]), scheds[a, p], _DATA.get(a, "mix"), steps, d["sizes"])
            for a, p, s in rows
        ]
        if key == "schedules":
            lr_input = np.stack([np.asarray(scheds[a, p](np.arange(steps)), np.float32) for a, p, _ in rows])
        else:
            lr_input = np.array([p for _, p, _ in rows], np.float32)
        res = _compiled(key, steps)(params, data, np.stack(plans), lr_input)
        n_valid, n_test = (len(d["valid"]), len(d["test"])) if steps == STEPS else (64, 64)
        valid = np.asarray(_heldout()(res["final_params"], d["valid"][:n_valid]))
        test = np.asarray(_heldout()(res["final_params"], d["test"][:n_test]))
        for i, (a, p, s) in enumerate(rows[:n]):
            r = {k: np.asarray(res[k][i]) for k in ("loss", "lr", "eval")}
            out.append((a, p, s, r | {"valid": float(valid[i]), "test": float(test[i])}))
    return out


def _record(stage: str, arm: str, peak: float, seed: int, r: dict[str, Any]) -> dict[str, Any]:
    ok = np.isfinite(r["valid"])
    return {
        "part": "lm",
        "stage": stage,
        "scheduler": arm,
        "data": _DATA.get(arm, "mix"),
        "peak_lr": peak,
        "seed": seed,
        "final_loss": float(r["valid"]) if ok else None,  # the tuning metric: validation bits per character
        "valid_bpc": float(r["valid"]) if ok else None,
        "test_bpc": float(r["test"]) if np.isfinite(r["test"]) else None,
        "valid_curve": thin(np.asarray(r["eval"]), 1),
        "minibatch_loss_curve": thin(np.asarray(r["loss"]) / np.log(2), 20),
        "lr_curve": thin(np.asarray(r["lr"]), 20),
    }


def best_controller(noisy_runs: list[dict[str, Any]]) -> str:
    """The LR controller with the best overall mean rank in part 2's evaluation runs (``DEFAULT_ADAPTIVE`` if none)."""
    from benchmarks.convergence.report_noisy import overall_ranks

    ev = [r for r in noisy_runs if r.get("part") == "noisy" and r["stage"] == "eval"]
    if not ev:
        return DEFAULT_ADAPTIVE
    ranks = overall_ranks(ev)
    kinds = {r["scheduler"]: r["kind"] for r in ev}
    controllers = [n for n in ranks if kinds[n] == "controller"]
    return min(controllers, key=lambda n: ranks[n][0]) if controllers else DEFAULT_ADAPTIVE


def run_lm(
    smoke: bool = False,
    show_progress: bool = True,
    adaptive: str = DEFAULT_ADAPTIVE,
    arms: tuple[str, ...] | None = None,
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, np.ndarray]]]:
    """Tune every arm (``arms``, default ``ARMS`` and ``adaptive``), then evaluate on fresh seeds; records, curves.

    Each arm's runs depend only on the arm (schedule arms share compiled batches, a controller has its own),
    so running ``ARMS`` and the adaptive arm in two calls, even in two processes, gives the same runs.
    """
    arms = (*ARMS, adaptive) if arms is None else arms
    steps = 40 if smoke else STEPS
    tune_seeds, eval_seeds = TUNE_SEEDS, EVAL_SEEDS[:2] if smoke else EVAL_SEEDS
    grid = GRID[:2] if smoke else GRID
    unit = len(grid) * len(tune_seeds)  # runs per arm in a tuning batch
    with progress_bar(2, "part 3 (language model)", show_progress) as tick:
        recs = tune(
            {a: list(grid) for a in arms},
            lambda plan: [_record("tune", *row) for row in _execute(plan, tune_seeds, steps, unit)],
            0 if smoke else MAX_ROUNDS,
        )
        tick()
        peaks = best_lrs(recs)
        ev = _execute({a: [peaks[a]] for a in arms}, eval_seeds, steps, unit)
        recs += [_record("eval", *row) for row in ev]
        tick()
    curves: dict[tuple[str, str], dict[str, list]] = {}
    for a, _, _, r in ev:
        c = curves.setdefault(("language model", a), {"loss": [], "lr": []})
        c["loss"].append(np.asarray(r["loss"], float) / np.log(2))
        c["lr"].append(np.asarray(r["lr"], float))
    return recs, {k: {kk: np.stack(vv) for kk, vv in v.items()} for k, v in curves.items()}


def meta(adaptive: str = DEFAULT_ADAPTIVE) -> dict[str, Any]:
    """What the LM part ran on: corpus hash and sizes, model size, steps, and its adaptive arm."""
    d = _data()
    return {
        "adaptive": adaptive,
        "steps": STEPS,
        "corpus_sha256": d["sha256"],
        "corpus_chars": dict(zip(("web", "hq"), d["sizes"]))
        | {"valid": int(d["valid"].size), "test": int(d["test"].size)},
        "params": M.n_params(M.init(np.random.default_rng(0))),
    }
