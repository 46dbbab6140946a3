"""Meta-training of :class:`lrsched.LearnedLR` by antithetic evolution strategies, in JAX.

One *inner run* trains a problem drawn from a :class:`~lrsched.learn.tasks.Task` for ``task.steps``
updates (Adam or SGD; the LR is the policy's, updated after every step by the very rule
:func:`lrsched.controllers.learned.policy_step` that ``LearnedLR.update`` runs, base schedule included),
starting from ``nominal_lr * c * 10**U(-1, 1)``; the budget is known to the policy in 80% of the runs.
``c`` is 1, or with ``calibrate=True`` the *calibrated centre* of the family and optimizer: the
multiplier in ``10**{-1.5, -1, ..., 1.5}`` with which the base schedule alone (the constant policy)
reaches the lowest median score on problems of its own; so a start at ``x 1`` means "the LR a tuned
base schedule would use", as on the held-out benchmark. Its score, normalised per run by the first loss, is::

    r_t = min(log(loss_t / loss_0), 3)   (3 where the loss is not finite: a diverged run)
    score = (1 - auc) * mean(r_t over the last ``tail`` of the steps) + auc * mean(r_t over all steps)

(final loss, plus ``auc`` of the area under the curve; defaults 0.1 and 0.2). Lower is better.

One *meta-iteration* draws ``pairs`` perturbations ``eps_k ~ N(0, I)`` of the flat weight vector
``theta`` and, per family, ``pairs`` problems; pair ``k`` runs problem ``k`` at ``theta + sigma eps_k``
and ``theta - sigma eps_k`` with the same minibatches (common random numbers). The score differences
``d_k`` are divided by their standard deviation within the family (each family weighs the same),
summed over families, and ``g = sum_k d_k eps_k / (2 sigma pairs)`` is a step of Adam (Salimans et
al. 2017, "Evolution Strategies as a Scalable Alternative to Reinforcement Learning"). All runs of a
family are one jitted call, compiled once per family (:mod:`lrsched.learn.population`): its ``2 x pairs``
runs are split over ``devices`` (by default every device, of every process after
``jax.distributed.initialize()``), each device ``jax.vmap``-s its share, and the scores come back to every
process, which all compute the same update. Everything is drawn from ``jax.random`` keys folded from
``seed``, so a run is reproducible for the same seed, device count, machine and JAX version (on other
device counts too, where a run's arithmetic does not depend on its batch: see ``population``).

The *meta-objective* reported every ``eval_every`` iterations is the mean score of ``theta`` on a
fixed validation set (per family ``validation`` problems drawn from the same distribution, starting
LRs spread evenly over ``nominal * c * [1/10, 10]``, budget known), minus the same for a constant policy
(the initial one: the base schedule alone): below 0 means better than following the base schedule from
the starting LR. The weights with the best
meta-objective are returned (the ES iterate itself is noisy).

Long runs: ``checkpoint=`` writes the ES state (:mod:`lrsched.learn.checkpoint`) every ``checkpoint_every``
iterations, at the end and on ``KeyboardInterrupt``; ``resume=True`` continues from it to the same final weights
as an uninterrupted run. ``compile_cache=`` keeps the compiled inner runs in a directory
(:mod:`lrsched.learn.cache`), so that a rerun or a resumed run does not compile them again. The result's
``stats`` report *inner updates per second* (optimizer steps of the inner runs, training and validation, per
second of iteration time from the second iteration on: compilation excluded) and the devices used.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrsched._core.backend import namespace_for
from lrsched.controllers.learned import FEATURES, LearnedLR, initial_state, policy_step
from lrsched.controllers.state import cast_state
from lrsched.learn import cache
from lrsched.learn import checkpoint as ckpt
from lrsched.learn.checkpoint import ESState
from lrsched.learn.loop import iterate
from lrsched.learn.population import Population
from lrsched.learn.tasks import Task

__all__ = ["TrainResult", "train", "unflatten"]

_CAP = 3.0


@dataclass
class TrainResult:
    """The trained policy and its meta-training history."""

    policy: LearnedLR
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    settings: dict[str, Any] = field(default_factory=dict)
    #: how the run went: ``inner_updates_per_second`` (steady state, compilation excluded), ``cores_busy`` (this
    #: process's CPU seconds per second then), ``inner_updates``, ``setup_seconds`` (compilation, calibration, the
    #: first validations), ``seconds`` (this call's), ``devices``, ``processes``, ``platform``, ``device_kind``
    stats: dict[str, Any] = field(default_factory=dict)


def unflatten(theta: Any, n_features: int, hidden: int) -> tuple[Any, Any, Any, Any]:
    """``(w1, b1, w2, b2)`` from the flat weight vector (``w1`` row-major, ``hidden x n_features``)."""
    a = hidden * n_features
    return (
        theta[:a].reshape(hidden, n_features),
        theta[a : a + hidden],
        theta[a + hidden : a + 2 * hidden],
        theta[a + 2 * hidden],
    )


def _size(n_features: int, hidden: int) -> int:
    return hidden * n_features + 2 * hidden + 1


def _initial_theta(key: Any, n_features: int, hidden: int) -> Any:
    """Random first layer, zero output layer: the initial policy keeps the LR constant."""
    k1, k2 = jax.random.split(key)
    w1 = jax.random.normal(k1, (hidden, n_features)) / math.sqrt(n_features)
    b1 = 0.5 * jax.random.normal(k2, (hidden,))
    return jnp.concatenate([w1.ravel(), b1, jnp.zeros(hidden + 1)])


def _inner(
    task: Task,
    features: tuple[str, ...],
    hidden: int,
    max_change: float,
    log_bounds: Any,
    default_horizon: int,
    schedule: tuple[float, float] = (0.0, 0.0),
    auc: float = 0.2,
    tail: float = 0.1,
) -> Callable:
    """``score(theta, key, lr_mult, horizon, use_adam)`` of one inner run (unbatched)."""
    xp = namespace_for(jnp.zeros(()))
    n_features = len(features)
    steps = task.steps

    def score(theta: Any, key: Any, lr_mult: Any, horizon: Any, use_adam: Any) -> Any:
        k_task, k_run = jax.random.split(key)
        params, data, sgd_lr = task.sample(k_task)
        if task.optimizer == "sgd":
            use_adam = jnp.bool_(False)
        elif task.optimizer == "adam":
            use_adam = jnp.bool_(True)
        lr0 = jnp.where(use_adam, task.adam_lr, sgd_lr).astype(jnp.float32) * lr_mult
        f32 = jnp.float32
        known = horizon > 0
        h = jnp.where(known, horizon, default_horizon).astype(f32)
        kf = known.astype(f32)
        state = cast_state(initial_state(lr0, h, kf, schedule), jnp.zeros((), f32))
        net = unflatten(theta, n_features, hidden)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)

        def step(carry: Any, x: Any) -> tuple[Any, Any]:
            p, m, v, st = carry
            t, k = x
            loss, g = jax.value_and_grad(task.loss)(p, data, k)
            m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
            v = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
            c1, c2 = 1.0 - 0.9 ** (t + 1.0), 1.0 - 0.999 ** (t + 1.0)

            def direction(gi: Any, mi: Any, vi: Any) -> Any:
                return jnp.where(use_adam, (mi / c1) / (jnp.sqrt(vi / c2) + 1e-8), gi)

            d = jax.tree_util.tree_map(direction, g, m, v)
            p = jax.tree_util.tree_map(lambda a, b: a - st.lr * b, p, d)
            if task.project is not None:
                p = task.project(p)
            st = policy_step(st, loss, net, features, max_change, log_bounds, xp, schedule)
            return (p, m, v, st), loss

        xs = (jnp.arange(steps, dtype=jnp.float32), jax.random.split(k_run, steps))
        _, losses = jax.lax.scan(step, (params, zeros, zeros, state), xs)
        logs = jnp.log(jnp.maximum(losses, 1e-30))
        r = jnp.clip(logs - logs[0], -30.0, _CAP)
        r = jnp.where(jnp.isfinite(losses) & jnp.isfinite(logs[0]), r, _CAP)
        n_tail = max(1, round(steps * tail))
        return (1.0 - auc) * jnp.mean(r[-n_tail:]) + auc * jnp.mean(r)

    return score


def _draws(key: Any, n: int, task: Task, spread: bool = False, known: float = 0.8) -> tuple[Any, ...]:
    """Per run: problem key, LR multiplier in [1/10, 10], horizon (0: unknown), Adam or SGD."""
    k = jax.random.split(key, 4)
    if spread:
        mult = jnp.logspace(-1.0, 1.0, n)
        horizon = jnp.full((n,), float(task.steps))
    else:
        mult = 10.0 ** jax.random.uniform(k[1], (n,), minval=-1.0, maxval=1.0)
        horizon = jnp.where(jax.random.uniform(k[2], (n,)) < known, float(task.steps), 0.0)
    use_adam = jax.random.uniform(k[3], (n,)) < 0.5
    if spread:
        use_adam = jnp.arange(n) % 2 == 0
    return jax.random.split(k[0], n), mult, horizon, use_adam


_CALIBRATION = tuple(10.0 ** (0.5 * k) for k in range(-3, 4))  # 10^-1.5 ... 10^1.5, half-decade steps


def _adam_flags(task: Task, use_adam: Any) -> Any:
    """Which runs use Adam (the draw's flag where the family mixes optimizers)."""
    if task.optimizer == "mixed":
        return use_adam
    return jnp.full(use_adam.shape, task.optimizer == "adam")


def _calibrate(start: Callable, task: Task, key: Any, n: int, theta: Any) -> tuple[float, float]:
    """The best LR multipliers ``(adam, sgd)`` of the base schedule alone on ``n`` problems of ``task``.

    ``theta`` is the constant policy (zero output layer): the runs follow the base schedule from
    ``nominal * c``; per optimizer the ``c`` of :data:`_CALIBRATION` with the lowest median score wins.
    """
    keys, _, _, use_adam = _draws(key, n, task)
    horizon = np.full(n, float(task.steps))
    thetas = np.broadcast_to(np.asarray(theta), (n, theta.shape[0]))
    pending = [start(thetas, keys, np.full(n, c), horizon, use_adam) for c in _CALIBRATION]
    scores = np.stack([result() for result in pending])
    scores = np.where(np.isfinite(scores), scores, _CAP)
    adam = np.asarray(_adam_flags(task, use_adam))
    out = []
    for group in (adam, ~adam):
        if not group.any():
            out.append(1.0)
            continue
        med = np.median(scores[:, group], axis=1)
        out.append(float(_CALIBRATION[int(np.argmin(med))]))
    return out[0], out[1]


def _centred(draws: tuple[Any, ...], task: Task, centre: tuple[float, float]) -> tuple[Any, ...]:
    """``draws`` with each run's LR multiplier times its optimizer's calibrated centre."""
    keys, mult, horizon, use_adam = draws
    return keys, mult * jnp.where(_adam_flags(task, use_adam), centre[0], centre[1]), horizon, use_adam


@dataclass
class _Meta:
    """What a meta-training run fixes before its first iteration: the families, their runners, the draws' key."""

    family: list[Task]
    starts: list[Callable]  # per family: start(thetas, keys, mults, horizons, use_adam) -> result()
    key: Any
    pairs: int
    sigma: float
    meta_lr: float
    validation: int
    eval_every: int
    centres: list[tuple[float, float]]
    val_draws: list[tuple[Any, ...]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Validation: per family ``validation`` problems (fold 1), starting LRs spread over the two decades.
        k_val = jax.random.fold_in(self.key, 1)
        self.val_draws = [
            _centred(_draws(jax.random.fold_in(k_val, i), self.validation, t, spread=True), t, c)
            for i, (t, c) in enumerate(zip(self.family, self.centres))
        ]

    def updates(self, evaluated: bool) -> int:
        """Inner updates of one iteration (its ``2 x pairs`` runs per family, and the validation runs if any)."""
        runs = 2 * self.pairs + (self.validation if evaluated else 0)
        return runs * sum(t.steps for t in self.family)

    def validate(self, theta: Any) -> float:
        """Mean validation score of ``theta`` over the families (lower is better)."""
        thetas = np.broadcast_to(np.asarray(theta), (self.validation, theta.shape[0]))
        pending = [start(thetas, *draws) for start, draws in zip(self.starts, self.val_draws)]
        return float(np.mean([float(jnp.mean(jnp.asarray(result()))) for result in pending]))

    def step(self, state: ESState, it: int) -> ESState:
        """Iteration ``it``: one ES step of Adam on ``theta``, and a validation every ``eval_every`` iterations."""
        k_it = jax.random.fold_in(jax.random.fold_in(jnp.asarray(state.key), 2), it)
        theta, pairs, sigma = state.theta, self.pairs, self.sigma
        eps = jax.random.normal(jax.random.fold_in(k_it, 0), (pairs, theta.shape[0]))
        thetas = jnp.concatenate([theta + sigma * eps, theta - sigma * eps])
        pending = []
        for i, (start, task) in enumerate(zip(self.starts, self.family)):
            draws = _centred(_draws(jax.random.fold_in(k_it, i + 1), pairs, task), task, self.centres[i])
            pending.append(start(thetas, *(jnp.concatenate([a, a]) for a in draws)))
        weights = jnp.zeros(pairs)
        mean_score = 0.0
        for result in pending:
            s = jnp.asarray(result())
            s = jnp.where(jnp.isfinite(s), s, _CAP)
            d = s[:pairs] - s[pairs:]
            weights = weights + d / (jnp.std(d) + 1e-8)
            mean_score += float(jnp.mean(s)) / len(self.family)
        g = (weights @ eps) / (2.0 * sigma * pairs)
        m = 0.9 * state.m + 0.1 * g
        v = 0.999 * state.v + 0.001 * g * g
        theta = theta - self.meta_lr * (m / (1 - 0.9**it)) / (jnp.sqrt(v / (1 - 0.999**it)) + 1e-8)
        new = dataclasses.replace(state, iteration=it, theta=theta, m=m, v=v, history=list(state.history))
        new.train_score = mean_score
        if it % self.eval_every == 0:
            self.evaluate(new, mean_score)
        return new

    def evaluate(self, state: ESState, train_score: float) -> dict[str, float]:
        """Validate ``state.theta``; record it in the history, and as the best weights if it is the best so far."""
        record = {"iteration": state.iteration, "objective": self.validate(state.theta) - state.baseline}
        record["train"] = train_score
        state.history.append(record)
        if record["objective"] < state.best_objective:  # keep the best validated weights
            state.best_theta, state.best_objective = state.theta, record["objective"]
        return record


def _start(meta: _Meta, theta: Any) -> ESState:
    """The state before the first iteration: the constant policy's validation score and the initial weights'."""
    baseline = meta.validate(jnp.zeros_like(theta))  # w2 = b2 = 0: a constant LR
    objective = meta.validate(theta) - baseline
    zeros = jnp.zeros_like(theta)
    history = [{"iteration": 0, "objective": objective, "train": float("nan")}]
    key = np.asarray(meta.key)
    return ESState(0, theta, zeros, zeros, key, theta, objective, history, baseline, list(meta.centres))


def _family(tasks: Mapping[str, Task] | list[Task] | Task | None) -> list[Task]:
    if tasks is None:
        from lrsched.learn.tasks import default_tasks

        tasks = default_tasks()
    if isinstance(tasks, Task):
        tasks = [tasks]
    family = list(tasks.values()) if isinstance(tasks, Mapping) else list(tasks)
    if not family or not all(isinstance(t, Task) for t in family):
        raise TypeError("train: tasks must be a Task, a list of Tasks or a dict of Tasks")
    return family


def train(
    tasks: Mapping[str, Task] | list[Task] | Task | None = None,
    *,
    iterations: int = 200,
    pairs: int = 16,
    sigma: float = 0.1,
    meta_lr: float = 0.03,
    hidden: int = 16,
    features: tuple[str, ...] = FEATURES,
    max_change: float = 0.1,
    min_scale: float = 1e-4,
    max_scale: float = 100.0,
    default_horizon: int = 1000,
    seed: int = 0,
    validation: int = 8,
    eval_every: int = 10,
    warmup: float = 0.0,
    anneal: float = 0.0,
    auc: float = 0.2,
    tail: float = 0.1,
    calibrate: bool = False,
    devices: Sequence[Any] | None = None,
    compile_cache: str | os.PathLike[str] | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 10,
    resume: bool = False,
    progress: bool = True,
    callback: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Meta-train a :class:`LearnedLR` on ``tasks`` (default: :func:`~lrsched.learn.tasks.default_tasks`).

    Returns a :class:`TrainResult`: ``.policy`` (the ``LearnedLR`` with the best validation meta-objective;
    ``dataclasses.replace(p, budget=...)`` sets your run's budget), ``.history`` (one dict per
    evaluation: ``iteration``, ``objective`` = the validation meta-objective relative to a constant LR,
    lower is better; ``train`` = the iteration's mean score) and ``.stats`` (inner updates per second, devices).

    Scaling and long runs (see the module docstring):

    * ``devices``: the devices the runs are split over (default ``jax.devices()``: every local device, and every
      process's after ``jax.distributed.initialize()``; every process then calls ``train`` with the same arguments).
    * ``compile_cache``: a directory for JAX's persistent compilation cache (default: none, nothing is written).
    * ``checkpoint``: a JSON file the ES state is written to every ``checkpoint_every`` iterations and at the end
      (atomically; by process 0 only); with ``resume=True`` a run continues from it if it exists (settings must
      match; ``iterations`` may grow) and ends with the weights an uninterrupted run would have.
    * ``progress``: a bar on stderr (iteration, meta-objective, inner updates per second, time left).

    Example:
        >>> from lrsched.learn.es import train
        >>> from lrsched.learn.tasks import toy_tasks
        >>> res = train(toy_tasks(steps=16), iterations=2, pairs=2, validation=2, eval_every=1, progress=False)
        >>> len(res.history)
        3
    """
    family = _family(tasks)
    for name, value, low in (
        ("iterations", iterations, 0),
        ("pairs", pairs, 2),
        ("hidden", hidden, 1),
        ("validation", validation, 1),
        ("eval_every", eval_every, 1),
        ("checkpoint_every", checkpoint_every, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"train: {name} must be an integer >= {low}, got {value!r}")
    if resume and checkpoint is None:
        raise ValueError("train: resume=True needs checkpoint=, the file to resume from")
    # Validates features/max_change/bounds once, with LearnedLR's messages.
    template = LearnedLR(
        w1=((0.0,) * len(features),) * hidden,
        b1=(0.0,) * hidden,
        w2=(0.0,) * hidden,
        b2=0.0,
        features=features,
        max_change=max_change,
        min_scale=min_scale,
        max_scale=max_scale,
        default_horizon=default_horizon,
        warmup=warmup,
        anneal=anneal,
    )
    settings: dict[str, Any] = dict(
        iterations=iterations,
        pairs=pairs,
        sigma=sigma,
        meta_lr=meta_lr,
        hidden=hidden,
        seed=seed,
        validation=validation,
        tasks=[t.name for t in family],
        steps={t.name: t.steps for t in family},
        warmup=warmup,
        anneal=anneal,
        auc=auc,
        tail=tail,
        calibrate=calibrate,
        eval_every=eval_every,
        features=list(template.features),
        max_change=max_change,
        min_scale=min_scale,
        max_scale=max_scale,
        default_horizon=default_horizon,
    )
    pop = Population(max(validation, 2 * pairs), devices)
    pop.padding_warning(pairs)
    with cache.compile_cache(compile_cache):
        return _train(family, template, pop, settings, progress, callback, checkpoint, checkpoint_every, resume)


def _train(
    family: list[Task],
    template: LearnedLR,
    pop: Population,
    settings: dict[str, Any],
    progress: bool,
    callback: Callable[[dict[str, float]], None] | None,
    checkpoint: str | os.PathLike[str] | None,
    checkpoint_every: int,
    resume: bool,
) -> TrainResult:
    """The run of :func:`train`, its arguments checked; returns the policy with the best validated weights."""
    t0 = time.perf_counter()
    s, tp = settings, template
    key = jax.random.PRNGKey(s["seed"])
    inner = (tp.features, s["hidden"], tp.max_change, tp.log_bounds, tp.default_horizon, tp.schedule, s["auc"])
    starts = [pop.compile(_inner(t, *inner, s["tail"])) for t in family]
    state = ckpt.load(checkpoint, s) if resume and checkpoint is not None and os.path.exists(checkpoint) else None
    if state is not None and state.iteration > s["iterations"]:
        raise ValueError(f"train: the checkpoint is at iteration {state.iteration}, past iterations={s['iterations']}")
    meta_kw = dict(key=key, pairs=s["pairs"], sigma=s["sigma"], meta_lr=s["meta_lr"], validation=s["validation"])
    meta_kw["eval_every"] = s["eval_every"]
    if state is None:
        # Calibration (optional): per family and optimizer, centre the starting LRs on the base schedule's best LR,
        # found on problems of their own (fold 3), so that "x 1" means "the LR a tuned base schedule would use".
        theta = _initial_theta(jax.random.fold_in(key, 0), len(tp.features), s["hidden"])
        centres = [(1.0, 1.0)] * len(family)
        if s["calibrate"]:
            k_cal, zero = jax.random.fold_in(key, 3), jnp.zeros_like(theta)
            centres = [
                _calibrate(start, t, jax.random.fold_in(k_cal, i), pop.runs, zero)
                for i, (start, t) in enumerate(zip(starts, family))
            ]
        meta = _Meta(family, starts, centres=centres, **meta_kw)
        state = _start(meta, theta)
    else:
        arrays: dict[str, Any] = {k: jnp.asarray(getattr(state, k)) for k in ("theta", "m", "v", "best_theta")}
        state = dataclasses.replace(state, **arrays)
        meta = _Meta(family, starts, centres=state.centres, **meta_kw)
    state, stats = iterate(meta, state, s, t0, progress, callback, checkpoint, checkpoint_every)
    stats |= {"devices": len(pop.devices), "processes": pop.processes, "platform": pop.devices[0].platform}
    stats["device_kind"] = pop.devices[0].device_kind
    return _result(template, state, settings, stats)


def _result(template: LearnedLR, state: ESState, settings: dict[str, Any], stats: dict[str, Any]) -> TrainResult:
    nf, hidden = len(template.features), settings["hidden"]
    w1, b1, w2, b2 = (np.asarray(a, dtype=np.float64) for a in unflatten(np.asarray(state.best_theta), nf, hidden))
    policy = dataclasses.replace(
        template,
        w1=tuple(tuple(float(v) for v in row) for row in w1),
        b1=tuple(float(v) for v in b1),
        w2=tuple(float(v) for v in w2),
        b2=float(b2),
    )
    calibration = {t: {"adam": c[0], "sgd": c[1]} for t, c in zip(settings["tasks"], state.centres)}
    settings = settings | {"calibration": calibration if settings["calibrate"] else None}
    return TrainResult(policy, state.history, state.seconds, settings, stats)
