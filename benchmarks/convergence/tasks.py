"""Part 2 tasks on scikit-learn's bundled digits (8x8 images, 1,797 samples; nothing is downloaded).

* ``softmax``: multinomial logistic regression with an L2 penalty of 1e-3 on the weights, Adam, minibatch 32;
* ``mlp``: 64-128-10 ReLU network, Adam, minibatch 32;
* ``nmf``: non-negative factorisation ``X ~ W H`` (rank 10) of the training digits matrix by projected
  SGD on minibatches of rows (W and H clipped at 0 after every step).

The split is fixed (1,200 train / 597 held out, drawn once with seed 0); a run's seed draws its
initialisation and its minibatch order. Each :class:`Task` holds the training loss on a minibatch,
the full training loss (recorded every ``EVAL_EVERY`` steps) and the held-out accuracy.

Example:
    >>> import numpy as np
    >>> t = TASKS["softmax"]
    >>> params = t.init(np.random.default_rng(0))
    >>> float(t.full_loss(params, t.data)) > 2.0
    True
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["BATCH", "EVAL_EVERY", "STEPS", "TASKS", "Task", "batches", "project_nonneg"]

BATCH = 32
EVAL_EVERY = 10
STEPS = 1200  # 32 epochs of 1,200 training samples


@functools.lru_cache(maxsize=1)
def _digits() -> dict[str, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = (x / 16.0)[order].astype(np.float32), y[order]
    return {"x": x[:1200], "y": y[:1200], "x_test": x[1200:], "y_test": y[1200:]}


@dataclass(frozen=True)
class Task:
    """A minibatch training problem: ``loss(params, data, batch_idx)``, ``full_loss``, ``accuracy`` (or None).

    ``framework="torch"`` tasks leave the JAX callables ``None`` and train in
    :mod:`benchmarks.convergence.torch_task`. ``tune_seeds`` / ``eval_seeds``: the runs' seeds.
    """

    name: str
    init: Callable[[np.random.Generator], Any] | None
    loss: Callable[[Any, Any, Any], Any] | None
    full_loss: Callable[[Any, Any], Any] | None
    accuracy: Callable[[Any, Any], Any] | None
    optimizer: str
    lr_grid: tuple[float, ...]
    steps: int
    framework: str = "jax"
    tune_seeds: tuple[int, ...] = (100, 101)
    eval_seeds: tuple[int, ...] = tuple(range(8))
    eval_every: int = EVAL_EVERY
    robust_seeds: tuple[int, ...] | None = None
    min_batch: int = 1

    @property
    def data(self) -> dict[str, np.ndarray]:
        return _digits()


def batches(rng: np.random.Generator, n: int, steps: int, size: int = BATCH) -> np.ndarray:
    """``(steps, size)`` sample indices: shuffled epochs, concatenated."""
    epochs = math.ceil(steps * size / n)
    return np.concatenate([rng.permutation(n) for _ in range(epochs)])[: steps * size].reshape(steps, size)


def _xent(logits: Any, y: Any) -> Any:
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def _classifier(
    name: str, forward: Callable, init: Callable, steps: int, grid: tuple[float, ...], l2: float = 0.0
) -> Task:
    """Cross-entropy, plus ``l2 / 2`` times the squared norm of the weights (``"w"`` leaves) if ``l2`` > 0."""

    def penalty(p: Any) -> Any:
        if not l2:
            return 0.0
        return 0.5 * l2 * sum(jnp.sum(w**2) for path, w in jax.tree_util.tree_leaves_with_path(p) if _is_w(path))

    def loss(p: Any, data: Any, idx: Any) -> Any:
        return _xent(forward(p, data["x"][idx]), data["y"][idx]) + penalty(p)

    def full_loss(p: Any, data: Any) -> Any:
        return _xent(forward(p, data["x"]), data["y"]) + penalty(p)

    def accuracy(p: Any, data: Any) -> Any:
        return jnp.mean(jnp.argmax(forward(p, data["x_test"]), axis=1) == data["y_test"])

    return Task(name, init, loss, full_loss, accuracy, "adam", grid, steps)


def _is_w(path: Any) -> bool:
    return getattr(path[-1], "key", None) == "w"


def _softmax_init(rng: np.random.Generator) -> Any:
    return {"w": rng.normal(0, 0.01, (64, 10)).astype(np.float32), "b": np.zeros(10, np.float32)}


def _softmax(p: Any, x: Any) -> Any:
    return x @ p["w"] + p["b"]


def _mlp_init(rng: np.random.Generator) -> Any:
    def layer(i: int, o: int) -> dict[str, np.ndarray]:
        b = 1 / math.sqrt(i)
        return {"w": rng.uniform(-b, b, (i, o)).astype(np.float32), "b": rng.uniform(-b, b, o).astype(np.float32)}

    return {"l1": layer(64, 128), "l2": layer(128, 10)}


def _mlp(p: Any, x: Any) -> Any:
    h = jnp.maximum(x @ p["l1"]["w"] + p["l1"]["b"], 0.0)
    return h @ p["l2"]["w"] + p["l2"]["b"]


_RANK = 10


def _nmf_init(rng: np.random.Generator) -> Any:
    scale = math.sqrt(float(np.mean(_digits()["x"])) / _RANK)
    return {
        "w": rng.uniform(0, 2 * scale, (1200, _RANK)).astype(np.float32),
        "h": rng.uniform(0, 2 * scale, (_RANK, 64)).astype(np.float32),
    }


def _nmf_loss(p: Any, data: Any, idx: Any) -> Any:
    """Squared reconstruction error per row (summed over the 64 pixels), averaged over the minibatch."""
    return jnp.mean(jnp.sum((data["x"][idx] - p["w"][idx] @ p["h"]) ** 2, axis=1))


def _nmf_full(p: Any, data: Any) -> Any:
    return jnp.mean(jnp.sum((data["x"] - p["w"] @ p["h"]) ** 2, axis=1))


def project_nonneg(params: Any) -> Any:
    """Projection of NMF's factors onto the non-negative orthant."""
    return jax.tree_util.tree_map(lambda a: jnp.maximum(a, 0.0), params)


TASKS: dict[str, Task] = {
    # L2 1e-3 (about scikit-learn's LogisticRegression default, C = 1, for 1,200 samples): the digits are
    # linearly separable, so without it the training loss has no minimum and only falls as the weights grow
    # (at Adam LRs of 30-300 it underflows to 0 in float32 and the ranking cannot separate the methods).
    "softmax": _classifier("softmax", _softmax, _softmax_init, STEPS, (3e-2, 1e-1, 3e-1, 1.0, 3.0), l2=1e-3),
    "mlp": _classifier("mlp", _mlp, _mlp_init, STEPS, (3e-3, 1e-2, 3e-2, 1e-1)),
    "nmf": Task("nmf", _nmf_init, _nmf_loss, _nmf_full, None, "sgd", (0.3, 1.0, 3.0), STEPS),
    # PyTorch, one Python step at a time: a smaller budget (1 tuning seed, 4 evaluation seeds, 2 for the robustness
    # runs, 400 steps).
    "cnn": Task(
        "cnn", None, None, None, None, "adam", (3e-3, 1e-2, 3e-2), 400, "torch", (100,), tuple(range(4)), 50, (0, 1)
    ),
}
