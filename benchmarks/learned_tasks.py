"""Fresh held-out tasks for the learned LR controller (issue 13), pre-registered in
``benchmarks/results/learned_protocol.md``: no design decision of the controller has seen them.

Built only from data that ships with scikit-learn (nothing is downloaded) or drawn from a fixed seed, and
from families that are *not* in the meta-training distribution (:mod:`lrsched.learn.tasks`):

* ``wine_logreg``: softmax (multinomial logistic) regression on the standardised wine data (13 features,
  3 classes; 142 train / 36 held out), L2 penalty 1e-3 on the weights, plain SGD. Convex.
* ``diabetes_mlp``: a 10-64-64-1 ReLU regression network on the standardised diabetes data (353 train /
  89 held out), mean squared error on the standardised target, Adam. Nonconvex regression.
* ``synth_mlp``: a 20-64-4 ReLU classifier on ``sklearn.datasets.make_classification`` (seed 13; 1,500
  samples, 10 informative features, 4 classes, 5% flipped labels; 1,200 train / 300 held out), L2 1e-4,
  SGD with momentum 0.9. Nonconvex classification.
* ``cancer_ae``: a 30-16-4-16-30 tanh autoencoder on the standardised breast-cancer features (455 train /
  114 held out), mean squared reconstruction error, Adam. Nonconvex (a bottleneck).

Every task runs ``STEPS`` = 1,000 updates of minibatch 32 through the convergence suite's machinery
(:func:`benchmarks.convergence.execute.execute`: the same training loop, LR-free update directions, seeds,
tuning rules). That machinery draws minibatches as shuffled epochs of 1,200 indices; a data set with
``n < 1200`` training rows reads index ``i`` as row ``i mod n``, so in each pass of 1,200 indices every row
is visited ``floor(1200 / n)`` or one more times (the full training loss, the metric, weighs rows equally).
Splits and standardisation are fixed (seed 0); a run's seed draws its initialisation and minibatch order.

Example:
    >>> import numpy as np
    >>> t = FRESH["wine_logreg"]
    >>> p = t.init(np.random.default_rng(0))
    >>> sorted(FRESH)
    ['cancer_ae', 'diabetes_mlp', 'synth_mlp', 'wine_logreg']
    >>> 0.5 < float(t.full_loss(p, t.data)) < 3.0  # about log(3) at initialisation
    True
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.convergence.tasks import Task

__all__ = ["FRESH", "FreshTask", "STEPS", "WINDOW"]

STEPS = 1000
WINDOW = 1200  # the suite's minibatch indices run over range(1200) (benchmarks.convergence.execute)


@dataclass(frozen=True)
class FreshTask(Task):
    """A :class:`benchmarks.convergence.tasks.Task` whose ``data`` is the named fresh data set."""

    dataset: str = ""

    @property
    def data(self) -> dict[str, np.ndarray]:
        return _dataset(self.dataset)


def _split(x: np.ndarray, y: np.ndarray, n_train: int, classify: bool) -> dict[str, np.ndarray]:
    """Fixed shuffle (seed 0), train/held-out split, features standardised with the training statistics."""
    order = np.random.default_rng(0).permutation(len(x))
    x, y = x[order], y[order]
    mu, sd = x[:n_train].mean(0), x[:n_train].std(0) + 1e-8
    x = ((x - mu) / sd).astype(np.float32)
    if classify:
        y = y.astype(np.int32)
    else:
        y = ((y - y[:n_train].mean()) / y[:n_train].std()).astype(np.float32)
    return {
        "x": x[:n_train],
        "y": y[:n_train],
        "x_test": x[n_train:],
        "y_test": y[n_train:],
        "rows": (np.arange(WINDOW) % n_train).astype(np.int32),
    }


@functools.cache
def _dataset(name: str) -> dict[str, np.ndarray]:
    from sklearn import datasets

    if name == "wine":
        x, y = datasets.load_wine(return_X_y=True)
        return _split(x, y, 142, classify=True)
    if name == "diabetes":
        x, y = datasets.load_diabetes(return_X_y=True)
        return _split(x, y, 353, classify=False)
    if name == "synth":
        x, y = datasets.make_classification(
            n_samples=1500,
            n_features=20,
            n_informative=10,
            n_redundant=5,
            n_classes=4,
            flip_y=0.05,
            random_state=13,
        )
        return _split(x, y, 1200, classify=True)
    if name == "cancer":
        x, _ = datasets.load_breast_cancer(return_X_y=True)
        d = _split(x, np.arange(len(x), dtype=float), 455, classify=False)  # the target is x itself
        return d | {"y": d["x"], "y_test": d["x_test"]}
    raise ValueError(f"unknown fresh data set {name!r}")


def _dense(rng: np.random.Generator, fan_in: int, fan_out: int) -> dict[str, np.ndarray]:
    """``torch.nn.Linear``'s default initialisation: uniform in +-1/sqrt(fan_in)."""
    b = 1.0 / math.sqrt(fan_in)
    return {
        "w": rng.uniform(-b, b, (fan_in, fan_out)).astype(np.float32),
        "b": rng.uniform(-b, b, fan_out).astype(np.float32),
    }


def _net(sizes: tuple[int, ...]) -> Callable[[np.random.Generator], Any]:
    return lambda rng: [_dense(rng, a, b) for a, b in itertools.pairwise(sizes)]


def _forward(act: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
    def forward(p: Any, x: Any) -> Any:
        for i, layer in enumerate(p):
            x = x @ layer["w"] + layer["b"]
            if i < len(p) - 1:
                x = act(x)
        return x

    return forward


def _l2(p: Any, l2: float) -> Any:
    return 0.5 * l2 * sum(jnp.sum(layer["w"] ** 2) for layer in p) if l2 else 0.0


def _xent(logits: Any, y: Any) -> Any:
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def _mse(pred: Any, y: Any) -> Any:
    """Squared error summed over outputs, averaged over rows (one output: the target is a vector)."""
    if y.ndim == 1:
        return jnp.mean((pred[:, 0] - y) ** 2)
    return jnp.mean(jnp.sum((pred - y) ** 2, axis=1))


def _task(
    name: str,
    dataset: str,
    sizes: tuple[int, ...],
    act: Callable[[Any], Any],
    classify: bool,
    optimizer: str,
    grid: tuple[float, ...],
    l2: float = 0.0,
) -> FreshTask:
    forward = _forward(act)
    fit = _xent if classify else _mse

    def loss(p: Any, data: Any, idx: Any) -> Any:
        rows = data["rows"][idx]
        return fit(forward(p, data["x"][rows]), data["y"][rows]) + _l2(p, l2)

    def full_loss(p: Any, data: Any) -> Any:
        return fit(forward(p, data["x"]), data["y"]) + _l2(p, l2)

    def accuracy(p: Any, data: Any) -> Any:
        return jnp.mean(jnp.argmax(forward(p, data["x_test"]), axis=1) == data["y_test"])

    acc = accuracy if classify else None
    return FreshTask(name, _net(sizes), loss, full_loss, acc, optimizer, grid, STEPS, dataset=dataset)


FRESH: dict[str, FreshTask] = {
    "wine_logreg": _task("wine_logreg", "wine", (13, 3), jnp.tanh, True, "sgd", (0.03, 0.1, 0.3, 1.0), l2=1e-3),
    "diabetes_mlp": _task("diabetes_mlp", "diabetes", (10, 64, 64, 1), jax.nn.relu, False, "adam", (1e-3, 3e-3, 1e-2)),
    "synth_mlp": _task("synth_mlp", "synth", (20, 64, 4), jax.nn.relu, True, "sgdm", (0.01, 0.03, 0.1), l2=1e-4),
    "cancer_ae": _task("cancer_ae", "cancer", (30, 16, 4, 16, 30), jnp.tanh, False, "adam", (1e-3, 3e-3, 1e-2)),
}
