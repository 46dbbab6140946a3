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
family are one ``jax.jit(jax.vmap(...))`` call. Everything is drawn from ``jax.random`` keys folded
from ``seed``, so a run is reproducible on the same machine and JAX version.

The *meta-objective* reported every ``eval_every`` iterations is the mean score of ``theta`` on a
fixed validation set (per family ``validation`` problems drawn from the same distribution, starting
LRs spread evenly over ``nominal * c * [1/10, 10]``, budget known), minus the same for a constant policy
(the initial one: the base schedule alone): below 0 means better than following the base schedule from
the starting LR. The weights with the best
meta-objective are returned (the ES iterate itself is noisy).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lrsched._core.backend import namespace_for
from lrsched.controllers.learned import FEATURES, LearnedLR, initial_state, policy_step
from lrsched.controllers.state import cast_state
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


def _calibrate(run: Callable, task: Task, key: Any, n: int, theta: Any) -> tuple[float, float]:
    """The best LR multipliers ``(adam, sgd)`` of the base schedule alone on ``n`` problems of ``task``.

    ``theta`` is the constant policy (zero output layer): the runs follow the base schedule from
    ``nominal * c``; per optimizer the ``c`` of :data:`_CALIBRATION` with the lowest median score wins.
    """
    keys, _, _, use_adam = _draws(key, n, task)
    horizon = jnp.full((n,), float(task.steps))
    thetas = jnp.broadcast_to(theta, (n, theta.shape[0]))
    scores = np.stack([np.asarray(run(thetas, keys, jnp.full((n,), c), horizon, use_adam)) for c in _CALIBRATION])
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
    progress: bool = True,
    callback: Callable[[dict[str, float]], None] | None = None,
) -> TrainResult:
    """Meta-train a :class:`LearnedLR` on ``tasks`` (default: :func:`~lrsched.learn.tasks.default_tasks`).

    Returns a :class:`TrainResult`: ``.policy`` (the ``LearnedLR`` with the best validation meta-objective;
    ``dataclasses.replace(p, budget=...)`` sets your run's budget) and ``.history`` (one dict per
    evaluation: ``iteration``, ``objective`` = the validation meta-objective relative to a constant LR,
    lower is better; ``train`` = the iteration's mean score).

    Example:
        >>> from lrsched.learn.es import train
        >>> from lrsched.learn.tasks import toy_tasks
        >>> res = train(toy_tasks(steps=16), iterations=2, pairs=2, validation=2, eval_every=1, progress=False)
        >>> len(res.history)
        3
    """
    from lrsched.tools.progress import progress as bar

    if tasks is None:
        from lrsched.learn.tasks import default_tasks

        tasks = default_tasks()
    if isinstance(tasks, Task):
        tasks = [tasks]
    family = list(tasks.values()) if isinstance(tasks, Mapping) else list(tasks)
    if not family or not all(isinstance(t, Task) for t in family):
        raise TypeError("train: tasks must be a Task, a list of Tasks or a dict of Tasks")
    for name, value, low in (("iterations", iterations, 0), ("pairs", pairs, 2), ("hidden", hidden, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"train: {name} must be an integer >= {low}, got {value!r}")
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
    features = template.features
    nf = len(features)
    t0 = time.perf_counter()
    key = jax.random.PRNGKey(seed)
    theta = _initial_theta(jax.random.fold_in(key, 0), nf, hidden)
    runners = [
        jax.jit(
            jax.vmap(
                _inner(
                    t, features, hidden, max_change, template.log_bounds, default_horizon, template.schedule, auc, tail
                ),
                in_axes=(0, 0, 0, 0, 0),
            )
        )
        for t in family
    ]
    # Validation batches are padded to 2 * pairs runs, the training batch: one compiled function per family.
    n_val = max(validation, 2 * pairs)
    val_draws = [
        _draws(jax.random.fold_in(jax.random.fold_in(key, 1), i), validation, t, spread=True)
        for i, t in enumerate(family)
    ]
    val_draws = [tuple(jnp.resize(a, (n_val, *a.shape[1:])) for a in d) for d in val_draws]
    # Calibration (optional): per family and optimizer, centre the starting LRs on the base schedule's best LR,
    # found on problems of their own (fold 3), so that "x 1" means "the LR a tuned base schedule would use".
    centres = [(1.0, 1.0)] * len(family)
    if calibrate:
        zero = jnp.zeros_like(theta)
        centres = [
            _calibrate(run, t, jax.random.fold_in(jax.random.fold_in(key, 3), i), n_val, zero)
            for i, (run, t) in enumerate(zip(runners, family))
        ]
        val_draws = [_centred(d, t, c) for d, t, c in zip(val_draws, family, centres)]

    def validate(th: Any) -> float:
        scores = []
        for run, draws in zip(runners, val_draws):
            scores.append(float(jnp.mean(run(jnp.broadcast_to(th, (n_val, th.shape[0])), *draws)[:validation])))
        return float(np.mean(scores))

    baseline = validate(jnp.zeros_like(theta))  # w2 = b2 = 0: a constant LR
    history = [{"iteration": 0, "objective": validate(theta) - baseline, "train": float("nan")}]
    best_theta, best_objective = theta, history[0]["objective"]
    m = jnp.zeros_like(theta)
    v = jnp.zeros_like(theta)
    size = _size(nf, hidden)
    with bar(iterations, "meta-training", enabled=progress) as pb:
        for it in range(1, iterations + 1):
            k_it = jax.random.fold_in(jax.random.fold_in(key, 2), it)
            eps = jax.random.normal(jax.random.fold_in(k_it, 0), (pairs, size))
            thetas = jnp.concatenate([theta + sigma * eps, theta - sigma * eps])
            weights = jnp.zeros(pairs)
            mean_score = 0.0
            for i, (run, task) in enumerate(zip(runners, family)):
                draws = _centred(_draws(jax.random.fold_in(k_it, i + 1), pairs, task), task, centres[i])
                both = tuple(jnp.concatenate([a, a]) for a in draws)
                s = run(thetas, *both)
                s = jnp.where(jnp.isfinite(s), s, _CAP)
                d = s[:pairs] - s[pairs:]
                weights = weights + d / (jnp.std(d) + 1e-8)
                mean_score += float(jnp.mean(s)) / len(family)
            g = (weights @ eps) / (2.0 * sigma * pairs)
            m = 0.9 * m + 0.1 * g
            v = 0.999 * v + 0.001 * g * g
            theta = theta - meta_lr * (m / (1 - 0.9**it)) / (jnp.sqrt(v / (1 - 0.999**it)) + 1e-8)
            record: dict[str, float] | None = None
            if it % eval_every == 0 or it == iterations:
                record = {"iteration": it, "objective": validate(theta) - baseline, "train": mean_score}
                history.append(record)
                if record["objective"] < best_objective:  # keep the best validated weights
                    best_theta, best_objective = theta, record["objective"]
                if callback is not None:
                    callback(record)
                pb.set_postfix_str(f"meta-objective {record['objective']:+.3f}")
            pb.update(1)
    w1, b1, w2, b2 = (np.asarray(a, dtype=np.float64) for a in unflatten(np.asarray(best_theta), nf, hidden))
    policy = dataclasses.replace(
        template,
        w1=tuple(tuple(float(v) for v in row) for row in w1),
        b1=tuple(float(v) for v in b1),
        w2=tuple(float(v) for v in w2),
        b2=float(b2),
    )
    settings = dict(
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
        calibration={t.name: {"adam": c[0], "sgd": c[1]} for t, c in zip(family, centres)} if calibrate else None,
    )
    return TrainResult(policy, history, time.perf_counter() - t0, settings)
