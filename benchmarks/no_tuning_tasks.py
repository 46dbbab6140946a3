"""Held-out tasks of the no-tuning evaluation's first edition (issue 21), pre-registered in
``results/no_tuning_protocol_v1.md``; used once, they are validation tasks of the second edition.

Committed before any method (ProbeLR or a baseline) has run on them. None of the data sets, generators or
model families is used by the library's benchmarks (digits, wine, diabetes, breast cancer,
``make_classification``, the character LM of ``benchmarks/convergence``) or by meta-training
(``lrsched.learn.tasks``: quadratics, Gaussian least squares, softmax regression and ReLU MLPs on random
teachers, NMF). Only data shipped with scikit-learn or drawn from a fixed seed:

* ``friedman_long``: ``make_friedman1`` regression (1,200 train / 300 held out, 10 features, noise 1,
  seed 21), a 10-48-48-1 SiLU network, mean squared error on the standardised target, Adam, **5,000 updates**.
* ``quantiles_b8``: ``make_gaussian_quantiles`` (1,500 samples, 6 features, 3 classes, seed 22), a 6-64-64-3
  ReLU classifier, cross-entropy, SGD with momentum 0.9, **minibatches of 8**: the loss reads the first 8 of
  each step's 32 indices, so a step sees 8 distinct random training rows.
* ``recall_transformer``: a **small transformer** (one pre-norm block: token + position embeddings of width
  32, two-head causal self-attention, a 32-64-32 GELU MLP, a readout from the last position) on synthetic
  associative recall: four (key, value) pairs (keys from 8 symbols, values from 8 others) followed by a
  query key; the answer is the query's value (1,200 train / 300 held out sequences, seed 23), cross-entropy,
  Adam with the gradient norm clipped at 1, 2,000 updates.
* ``iris_deep``: ``load_iris`` (120 train / 30 held out), a deep narrow 4-16-16-16-3 tanh classifier,
  cross-entropy + L2 1e-4, plain SGD.

Every task runs through the convergence suite's machinery (:func:`benchmarks.convergence.execute.execute`:
the same training loop, LR-free update directions, seeds, tuning), minibatch 32 unless said otherwise;
1,000 updates unless said otherwise. A data set with ``n < 1200`` rows reads the suite's index ``i`` as row
``i mod n`` (as ``benchmarks/learned_tasks.py`` does). Splits and standardisation are fixed; a run's seed
draws its initialisation and minibatch order. The only code shared with the library's benchmarks is the
``Task`` record the machinery runs.

Example:
    >>> import numpy as np
    >>> sorted(HELD_OUT)
    ['friedman_long', 'iris_deep', 'quantiles_b8', 'recall_transformer']
    >>> t = HELD_OUT["recall_transformer"]
    >>> 1.5 < float(t.full_loss(t.init(np.random.default_rng(0)), t.data)) < 3.5  # about log(8)
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

__all__ = ["HELD_OUT", "HeldOutTask"]

WINDOW = 1200  # the suite's minibatch indices run over range(1200) (benchmarks.convergence.execute)
SMALL_BATCH = 8


@dataclass(frozen=True)
class HeldOutTask(Task):
    """A :class:`benchmarks.convergence.tasks.Task` whose ``data`` is the named held-out data set."""

    dataset: str = ""

    @property
    def data(self) -> dict[str, np.ndarray]:
        return _dataset(self.dataset)


def _split(x: np.ndarray, y: np.ndarray, n_train: int, classify: bool, seed: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    mu, sd = x[:n_train].mean(0), x[:n_train].std(0) + 1e-8
    x = ((x - mu) / sd).astype(np.float32)
    y = y.astype(np.int32) if classify else ((y - y[:n_train].mean()) / y[:n_train].std()).astype(np.float32)
    rows = (np.arange(WINDOW) % n_train).astype(np.int32)
    return {"x": x[:n_train], "y": y[:n_train], "x_test": x[n_train:], "y_test": y[n_train:], "rows": rows}


def _recall(seed: int, n: int, pairs: int = 4, keys: int = 8) -> dict[str, np.ndarray]:
    """Associative recall: ``k1 v1 ... k4 v4 q`` -> the value paired with ``q`` (keys 0..7, values 8..15)."""
    rng = np.random.default_rng(seed)
    k = np.stack([rng.choice(keys, pairs, replace=False) for _ in range(n)])
    v = rng.integers(keys, 2 * keys, (n, pairs))
    pick = rng.integers(0, pairs, n)
    seq = np.concatenate([np.stack([k, v], axis=2).reshape(n, 2 * pairs), k[np.arange(n), pick][:, None]], axis=1)
    y = v[np.arange(n), pick] - keys
    return {
        "x": seq[:1200].astype(np.int32),
        "y": y[:1200].astype(np.int32),
        "x_test": seq[1200:].astype(np.int32),
        "y_test": y[1200:].astype(np.int32),
        "rows": np.arange(WINDOW, dtype=np.int32),
    }


@functools.cache
def _dataset(name: str) -> dict[str, np.ndarray]:
    from sklearn import datasets

    if name == "friedman":
        x, y = datasets.make_friedman1(n_samples=1500, n_features=10, noise=1.0, random_state=21)
        return _split(x, y, 1200, classify=False, seed=21)
    if name == "quantiles":
        x, y = datasets.make_gaussian_quantiles(n_samples=1500, n_features=6, n_classes=3, random_state=22)
        return _split(x, y, 1200, classify=True, seed=22)
    if name == "recall":
        return _recall(23, 1500)
    if name == "iris":
        x, y = datasets.load_iris(return_X_y=True)
        return _split(x, y, 120, classify=True, seed=24)
    raise ValueError(f"unknown held-out data set {name!r}")


def _dense(rng: np.random.Generator, fan_in: int, fan_out: int) -> dict[str, np.ndarray]:
    b = 1.0 / math.sqrt(fan_in)
    return {
        "w": rng.uniform(-b, b, (fan_in, fan_out)).astype(np.float32),
        "b": rng.uniform(-b, b, fan_out).astype(np.float32),
    }


def _mlp(sizes: tuple[int, ...], act: Callable[[Any], Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def init(rng: np.random.Generator) -> Any:
        return [_dense(rng, a, b) for a, b in itertools.pairwise(sizes)]

    def forward(p: Any, x: Any) -> Any:
        for i, layer in enumerate(p):
            x = x @ layer["w"] + layer["b"]
            x = act(x) if i < len(p) - 1 else x
        return x

    return init, forward


_D, _HEADS, _LEN, _VOCAB, _CLASSES = 32, 2, 9, 16, 8


def _transformer_init(rng: np.random.Generator) -> Any:
    def mat(a: int, b: int) -> np.ndarray:
        return rng.normal(0.0, 1.0 / math.sqrt(a), (a, b)).astype(np.float32)

    return {
        "tok": rng.normal(0.0, 1.0, (_VOCAB, _D)).astype(np.float32),
        "pos": rng.normal(0.0, 1.0, (_LEN, _D)).astype(np.float32),
        "qkv": mat(_D, 3 * _D),
        "o": mat(_D, _D),
        "m1": _dense(rng, _D, 2 * _D),
        "m2": _dense(rng, 2 * _D, _D),
        "out": _dense(rng, _D, _CLASSES),
    }


def _norm(x: Any) -> Any:
    mu = jnp.mean(x, axis=-1, keepdims=True)
    return (x - mu) / jnp.sqrt(jnp.mean((x - mu) ** 2, axis=-1, keepdims=True) + 1e-5)


def _transformer(p: Any, seq: Any) -> Any:
    h = p["tok"][seq] + p["pos"]  # (batch, len, d)
    q, k, v = jnp.split(_norm(h) @ p["qkv"], 3, axis=-1)
    split = lambda a: a.reshape(*a.shape[:-1], _HEADS, _D // _HEADS)  # noqa: E731
    att = jnp.einsum("bihd,bjhd->bhij", split(q), split(k)) / math.sqrt(_D // _HEADS)
    att = jnp.where(jnp.tril(jnp.ones((_LEN, _LEN), bool)), att, -1e9)
    mix = jnp.einsum("bhij,bjhd->bihd", jax.nn.softmax(att, axis=-1), split(v)).reshape(h.shape)
    h = h + mix @ p["o"]
    h = h + jax.nn.gelu(_norm(h) @ p["m1"]["w"] + p["m1"]["b"]) @ p["m2"]["w"] + p["m2"]["b"]
    return _norm(h[:, -1]) @ p["out"]["w"] + p["out"]["b"]


def _xent(logits: Any, y: Any) -> Any:
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def _mse(pred: Any, y: Any) -> Any:
    return jnp.mean((pred[:, 0] - y) ** 2)


def _l2(p: Any, l2: float) -> Any:
    return 0.5 * l2 * sum(jnp.sum(layer["w"] ** 2) for layer in p) if l2 else 0.0


def _task(
    name: str,
    dataset: str,
    init: Callable[..., Any],
    forward: Callable[..., Any],
    classify: bool,
    optimizer: str,
    grid: tuple[float, ...],
    steps: int = 1000,
    l2: float = 0.0,
    batch: int | None = None,
) -> HeldOutTask:
    fit = _xent if classify else _mse

    def loss(p: Any, data: Any, idx: Any) -> Any:
        rows = data["rows"][idx if batch is None else idx[:batch]]
        return fit(forward(p, data["x"][rows]), data["y"][rows]) + _l2(p, l2)

    def full_loss(p: Any, data: Any) -> Any:
        return fit(forward(p, data["x"]), data["y"]) + _l2(p, l2)

    def accuracy(p: Any, data: Any) -> Any:
        return jnp.mean(jnp.argmax(forward(p, data["x_test"]), axis=1) == data["y_test"])

    every = 10 if steps <= 2000 else 50
    return HeldOutTask(
        name,
        init,
        loss,
        full_loss,
        accuracy if classify else None,
        optimizer,
        grid,
        steps,
        eval_every=every,
        dataset=dataset,
    )


HELD_OUT: dict[str, HeldOutTask] = {
    "friedman_long": _task(
        "friedman_long", "friedman", *_mlp((10, 48, 48, 1), jax.nn.silu), False, "adam", (1e-3, 3e-3, 1e-2), steps=5000
    ),
    "quantiles_b8": _task(
        "quantiles_b8",
        "quantiles",
        *_mlp((6, 64, 64, 3), jax.nn.relu),
        True,
        "sgdm",
        (0.01, 0.03, 0.1),
        batch=SMALL_BATCH,
    ),
    "recall_transformer": _task(
        "recall_transformer",
        "recall",
        _transformer_init,
        _transformer,
        True,
        "adam_clip",
        (1e-3, 3e-3, 1e-2),
        steps=2000,
    ),
    "iris_deep": _task(
        "iris_deep", "iris", *_mlp((4, 16, 16, 16, 3), jnp.tanh), True, "sgd", (0.03, 0.1, 0.3, 1.0), l2=1e-4
    ),
}
