"""The meta-training task distribution: small, cheap, randomised training problems in JAX.

A :class:`Task` is a *family*: ``sample(key) -> (params, data, nominal_lr)`` draws one problem (sizes
are fixed per family so that runs batch under ``jax.vmap``; its spectrum, noise, effective batch
size and data are random), ``loss(params, data, key)`` is the stochastic (minibatch) training loss,
``optimizer`` is ``"sgd"``, ``"adam"`` or ``"mixed"`` (each run draws one of the two), and
``project`` optionally maps parameters back to a feasible set after each step (NMF: clip at 0).
``nominal_lr`` is a rough good LR for SGD (``adam_lr`` for Adam): about the best constant LR of the
family, found by a sweep of constant LRs on the training distribution; a run starts at
``nominal_lr * 10**U(-1, 1)`` (two decades).

Families (:func:`default_tasks`):

* ``quadratic``: the noisy quadratic model, ``0.5 sum_i lam_i (x_i - x*_i + s xi_i)^2``, 32-d, spectrum
  ``lam_i = cond**-(u_i**p)`` (condition number 10..10^4, skew p in [1, 3]), noise s in [0.01, 1];
* ``least_squares``: linear regression on 512 x 16 Gaussian data with feature scales over two
  decades, label noise 0.01..1, minibatches of 4..64 rows;
* ``softmax``: 4-class softmax regression on labels drawn from a random teacher (temperature 1..10);
* ``mlp``: a 16-32-4 ReLU network on labels of a random teacher network (Adam);
* ``deep_mlp``: a 16-64-64-4 ReLU network (He initialisation, Adam) on the same kind of teacher labels;
  at the high end of its starting LRs its ReLUs die and the loss stalls near its initial value, the
  failure a controller must notice (only in ``default_tasks(deep=True)``);
* ``nmf``: stochastic non-negative factorisation (rank 4) of a 64 x 32 non-negative matrix with
  noise, projected SGD on minibatches of rows (the setting of the first learned LR schedulers).

Example:
    >>> from lrsched.learn.tasks import default_tasks
    >>> import jax
    >>> t = default_tasks()["quadratic"]
    >>> params, data, lr = t.sample(jax.random.PRNGKey(0))
    >>> float(t.loss(params, data, jax.random.PRNGKey(1))) > 0
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["Task", "default_tasks", "toy_tasks", "user_task"]


@dataclass(frozen=True)
class Task:
    """One family of training problems (see the module docstring)."""

    name: str
    sample: Callable[[Any], tuple[Any, Any, Any]]
    loss: Callable[[Any, Any, Any], Any]
    optimizer: str = "adam"
    project: Callable[[Any], Any] | None = None
    steps: int = 256
    adam_lr: float = 0.01  #: nominal LR of the runs that use Adam (``sample`` gives the SGD one)

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adam", "mixed"):
            raise ValueError(f"Task: optimizer must be 'sgd', 'adam' or 'mixed', got {self.optimizer!r}")
        if not isinstance(self.steps, int) or self.steps < 8:
            raise ValueError(f"Task: steps must be an integer >= 8, got {self.steps!r}")


def user_task(
    init: Callable[[Any], Any],
    loss: Callable[[Any, Any], Any],
    lr: float,
    *,
    optimizer: str = "adam",
    steps: int = 256,
    name: str = "user",
    project: Callable[[Any], Any] | None = None,
) -> Task:
    """A task from your own training problem.

    Args:
        init: ``init(key) -> params`` (a pytree of JAX arrays; ``key`` a ``jax.random`` key).
        loss: ``loss(params, key) -> scalar``, the (minibatch) training loss; ``key`` draws the minibatch.
            Must be positive (a loss, not a log-likelihood that can go negative) and differentiable by JAX.
        lr: your usual LR; meta-training starts runs at ``lr * 10**U(-1, 1)``.
        optimizer: 'adam' or 'sgd' (the direction the learned LR multiplies).
        steps: updates per training run.

    Example:
        >>> from lrsched.learn.tasks import user_task
        >>> import jax, jax.numpy as jnp
        >>> t = user_task(lambda k: jax.random.normal(k, (3,)), lambda p, k: jnp.sum(p**2) + 0.1, lr=0.1)
        >>> t.name
        'user'
    """
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"user_task: lr must be a positive number, got {lr!r}")

    def sample(key: Any) -> tuple[Any, Any, Any]:
        return init(key), (), jnp.float32(lr)

    return Task(name, sample, lambda p, data, key: loss(p, key), optimizer, project, steps, float(lr))


def _log_uniform(key: Any, lo: float, hi: float, shape: tuple[int, ...] = ()) -> Any:
    return jnp.exp(jax.random.uniform(key, shape, minval=jnp.log(lo), maxval=jnp.log(hi)))


# -- quadratic -------------------------------------------------------------------------------------
_QD = 32


def _quadratic_sample(key: Any) -> tuple[Any, Any, Any]:
    k = jax.random.split(key, 5)
    cond = _log_uniform(k[0], 10.0, 1e4)
    skew = jax.random.uniform(k[1], minval=1.0, maxval=3.0)
    u = jnp.sort(jax.random.uniform(k[2], (_QD,)))
    lam = cond ** -(u**skew)
    target = jax.random.normal(k[3], (_QD,))
    noise = _log_uniform(k[4], 0.01, 1.0)
    return jnp.zeros(_QD), {"lam": lam, "target": target, "noise": noise}, jnp.float32(0.5)


def _quadratic_loss(p: Any, d: Any, key: Any) -> Any:
    shift = d["noise"] * jax.random.normal(key, (_QD,))
    return 0.5 * jnp.sum(d["lam"] * (p - d["target"] + shift) ** 2)


# -- data sets for the regression / classification families ----------------------------------------
_N, _DIM, _CLASSES, _MAXB = 512, 16, 4, 64


def _batch(key: Any, size: Any) -> tuple[Any, Any]:
    """64 row indices and a mask keeping the first ``size`` of them."""
    idx = jax.random.randint(key, (_MAXB,), 0, _N)
    mask = (jnp.arange(_MAXB) < size).astype(jnp.float32)
    return idx, mask / jnp.sum(mask)


def _batch_size(key: Any) -> Any:
    return jnp.round(_log_uniform(key, 4.0, 64.0))


def _ls_sample(key: Any) -> tuple[Any, Any, Any]:
    k = jax.random.split(key, 5)
    scales = _log_uniform(k[0], 0.1, 10.0, (_DIM,)) ** 0.5
    x = jax.random.normal(k[1], (_N, _DIM)) * scales
    w = jax.random.normal(k[2], (_DIM,)) / jnp.sqrt(_DIM)
    y = x @ w + _log_uniform(k[3], 0.01, 1.0) * jax.random.normal(k[4], (_N,))
    lam_max = jnp.max(jnp.linalg.eigvalsh(x.T @ x / _N))
    return jnp.zeros(_DIM), {"x": x, "y": y, "b": _batch_size(k[0])}, 0.5 / lam_max


def _ls_loss(p: Any, d: Any, key: Any) -> Any:
    idx, wt = _batch(key, d["b"])
    return 0.5 * jnp.sum(wt * (d["x"][idx] @ p - d["y"][idx]) ** 2)


def _xent(logits: Any, y: Any, wt: Any) -> Any:
    return -jnp.sum(wt * jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1)[:, 0])


def _teacher_data(key: Any, deep: bool) -> dict[str, Any]:
    k = jax.random.split(key, 5)
    x = jax.random.normal(k[0], (_N, _DIM))
    temp = _log_uniform(k[1], 1.0, 10.0)
    if deep:
        h = jnp.tanh(x @ jax.random.normal(k[2], (_DIM, 32)) / jnp.sqrt(_DIM))
        logits = h @ jax.random.normal(k[3], (32, _CLASSES)) / jnp.sqrt(32.0)
    else:
        logits = x @ jax.random.normal(k[2], (_DIM, _CLASSES)) / jnp.sqrt(_DIM)
    y = jax.random.categorical(k[4], temp * logits)
    return {"x": x, "y": y, "b": _batch_size(k[1])}


def _softmax_sample(key: Any) -> tuple[Any, Any, Any]:
    params = {"w": jnp.zeros((_DIM, _CLASSES)), "b": jnp.zeros(_CLASSES)}
    return params, _teacher_data(key, deep=False), jnp.float32(1.0)


def _softmax_loss(p: Any, d: Any, key: Any) -> Any:
    idx, wt = _batch(key, d["b"])
    return _xent(d["x"][idx] @ p["w"] + p["b"], d["y"][idx], wt)


def _mlp_sample(key: Any) -> tuple[Any, Any, Any]:
    k1, k2, k3 = jax.random.split(key, 3)
    params = {
        "w1": jax.random.normal(k1, (_DIM, 32)) / jnp.sqrt(_DIM),
        "b1": jnp.zeros(32),
        "w2": jax.random.normal(k2, (32, _CLASSES)) / jnp.sqrt(32.0),
        "b2": jnp.zeros(_CLASSES),
    }
    return params, _teacher_data(k3, deep=True), jnp.float32(0.1)


def _mlp_loss(p: Any, d: Any, key: Any) -> Any:
    idx, wt = _batch(key, d["b"])
    h = jnp.maximum(d["x"][idx] @ p["w1"] + p["b1"], 0.0)
    return _xent(h @ p["w2"] + p["b2"], d["y"][idx], wt)


def _deep_sample(key: Any) -> tuple[Any, Any, Any]:
    k = jax.random.split(key, 4)
    params = {
        "w1": jax.random.normal(k[0], (_DIM, 64)) * jnp.sqrt(2.0 / _DIM),
        "b1": jnp.zeros(64),
        "w2": jax.random.normal(k[1], (64, 64)) * jnp.sqrt(2.0 / 64),
        "b2": jnp.zeros(64),
        "w3": jax.random.normal(k[2], (64, _CLASSES)) / 8.0,
        "b3": jnp.zeros(_CLASSES),
    }
    return params, _teacher_data(k[3], deep=True), jnp.float32(0.1)


def _deep_loss(p: Any, d: Any, key: Any) -> Any:
    idx, wt = _batch(key, d["b"])
    h = jnp.maximum(d["x"][idx] @ p["w1"] + p["b1"], 0.0)
    h = jnp.maximum(h @ p["w2"] + p["b2"], 0.0)
    return _xent(h @ p["w3"] + p["b3"], d["y"][idx], wt)


# -- stochastic NMF -------------------------------------------------------------------------------
_NR, _NC, _RANK, _NB = 64, 32, 4, 16


def _nmf_sample(key: Any) -> tuple[Any, Any, Any]:
    k = jax.random.split(key, 5)
    x = jax.random.uniform(k[0], (_NR, _RANK)) @ jax.random.uniform(k[1], (_RANK, _NC))
    x = jnp.abs(x + _log_uniform(k[2], 0.01, 0.3) * jax.random.normal(k[3], x.shape))
    scale = jnp.sqrt(jnp.mean(x) / _RANK)
    kw, kh = jax.random.split(k[4])
    params = {
        "w": jax.random.uniform(kw, (_NR, _RANK), maxval=2 * scale),
        "h": jax.random.uniform(kh, (_RANK, _NC), maxval=2 * scale),
    }
    nominal = 10.0 / jnp.sum(params["h"] ** 2)
    return params, {"x": x}, nominal


def _nmf_loss(p: Any, d: Any, key: Any) -> Any:
    rows = jax.random.randint(key, (_NB,), 0, _NR)
    return jnp.mean(jnp.sum((d["x"][rows] - p["w"][rows] @ p["h"]) ** 2, axis=1))


def _nonneg(p: Any) -> Any:
    return jax.tree_util.tree_map(lambda a: jnp.maximum(a, 0.0), p)


def default_tasks(steps: int = 256, deep: bool = False) -> dict[str, Task]:
    """The families meta-training draws from (see the module docstring); ``deep`` adds ``deep_mlp``."""
    extra = {"deep_mlp": Task("deep_mlp", _deep_sample, _deep_loss, "adam", None, steps, 0.003)} if deep else {}
    return extra | {
        "quadratic": Task("quadratic", _quadratic_sample, _quadratic_loss, "mixed", None, steps, 0.05),
        "least_squares": Task("least_squares", _ls_sample, _ls_loss, "mixed", None, steps, 0.03),
        "softmax": Task("softmax", _softmax_sample, _softmax_loss, "mixed", None, steps, 0.05),
        "mlp": Task("mlp", _mlp_sample, _mlp_loss, "adam", None, steps, 0.03),
        "nmf": Task("nmf", _nmf_sample, _nmf_loss, "sgd", _nonneg, steps),
    }


def toy_tasks(steps: int = 64) -> dict[str, Task]:
    """One cheap family (the noisy quadratic, SGD) for tests and quick trials."""
    return {"quadratic": Task("quadratic", _quadratic_sample, _quadratic_loss, "sgd", None, steps)}
