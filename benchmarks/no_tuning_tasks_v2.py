"""Held-out tasks of the no-tuning evaluation, second edition (issue 21), pre-registered in
``results/no_tuning_protocol_v2.md``.

Committed before any method (ProbeLR or a baseline) has run on them. None of the data sets, generators or model
families is used by the library's benchmarks (digits, wine, diabetes, breast cancer, iris, ``make_classification``,
``make_friedman1``, ``make_gaussian_quantiles``, the associative-recall transformer, the synthetic MLP, the
character LM on the standard library's docstrings and comments), by meta-training (``lrsched.learn.tasks``:
quadratics, Gaussian least squares, softmax regression and ReLU MLPs on random teachers, NMF) or by the first
edition. Data only from scikit-learn's generators, the standard library, or a fixed seed:

* ``blobs_torch`` (**PyTorch**): ``make_blobs`` (1,500 samples, 16 features, 8 centres, cluster spread 6,
  seed 41), a 16-64-64-8 GELU classifier built with ``torch.nn``, cross-entropy, ``torch.optim.Adam``,
  **500 updates**.
* ``scurve_long``: ``make_s_curve`` (1,500 samples, noise 0.05, seed 42): regress the curve's coordinate
  ``t`` (standardised) from the 3-D point, a 3-32-32-1 tanh network, mean squared error, SGD with momentum 0.9,
  **5,000 updates**.
* ``source_transformer``: a **small transformer** (one pre-norm block: token + position embeddings of width 16,
  two-head causal self-attention, a 16-32-16 GELU MLP, a readout from the last position) predicting the next
  character of Python source code: windows of 8 characters drawn at random (seed 43) from the source files of
  the standard library's ``textwrap``, ``heapq``, ``bisect`` and ``fnmatch`` modules (the code itself, as read
  from disk); characters case-folded and coded over 24 classes (the 23 most frequent, then "other");
  1,200 train / 300 held out windows, cross-entropy, Adam with the gradient norm clipped at 1, minibatches of
  16, 1,000 updates.
* ``swissroll_b8``: ``make_swiss_roll`` (1,500 samples, noise 0.5, seed 44): classify the roll's coordinate
  ``t`` into 6 equal-width bins from the 3-D point, a 3-64-64-6 ReLU classifier, cross-entropy, SGD with
  momentum 0.9, **minibatches of 8**.

Minibatch 32 unless said otherwise, 1,000 updates unless said otherwise, 1,200 train / 300 held out rows,
features standardised on the training rows. A run's seed draws its initialisation and minibatch order. The JAX
tasks run through the convergence suite's machinery (the only code shared with the library's benchmarks is the
``Task`` record it runs); the PyTorch task's model, data and loss are here, and ``benchmarks/no_tuning.py``
trains it.

Example:
    >>> import numpy as np
    >>> sorted(HELD_OUT_V2)
    ['blobs_torch', 'scurve_long', 'source_transformer', 'swissroll_b8']
    >>> t = HELD_OUT_V2["source_transformer"]
    >>> 2.5 < float(t.full_loss(t.init(np.random.default_rng(0)), t.data)) < 4.5  # about log(24)
    True
"""

from __future__ import annotations

import collections
import functools
import importlib
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.convergence.tasks import Task

__all__ = ["HELD_OUT_V2", "TaskV2", "argmax_hits", "jax_task", "noise_like", "noise_twin", "torch_task"]

WINDOW = 1200  # the suite's minibatch indices run over range(1200)
SMALL_BATCH = 8
SOURCE_MODULES = ("textwrap", "heapq", "bisect", "fnmatch")


@dataclass(frozen=True)
class TaskV2(Task):
    """A :class:`benchmarks.convergence.tasks.Task` on a named data set; ``torch_model`` builds a PyTorch task's
    network (``framework="torch"``)."""

    dataset: str = ""
    torch_model: Callable[[], Any] | None = None

    @property
    def data(self) -> dict[str, np.ndarray]:
        return _dataset(self.dataset)


def _split(x: np.ndarray, y: np.ndarray, classify: bool, seed: int) -> dict[str, np.ndarray]:
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order], y[order]
    mu, sd = x[:WINDOW].mean(0), x[:WINDOW].std(0) + 1e-8
    x = ((x - mu) / sd).astype(np.float32)
    y = y.astype(np.int32) if classify else ((y - y[:WINDOW].mean()) / y[:WINDOW].std()).astype(np.float32)
    return {"x": x[:WINDOW], "y": y[:WINDOW], "x_test": x[WINDOW:], "y_test": y[WINDOW:]}


_LEN, _CLASSES, _D, _HEADS = 8, 24, 16, 2
TRANSFORMER_BATCH = 16


def _source(seed: int, n: int) -> dict[str, np.ndarray]:
    """Windows of ``_LEN`` coded characters of the standard library's source, and the character after each."""
    text = "".join(open(importlib.import_module(m).__file__, encoding="utf-8").read() for m in SOURCE_MODULES)
    text = text.lower()
    common = [c for c, _ in collections.Counter(text).most_common(_CLASSES - 1)]
    code = np.array([common.index(c) if c in common else _CLASSES - 1 for c in text], np.int32)
    start = np.random.default_rng(seed).choice(len(code) - _LEN - 1, n, replace=False)
    x = np.stack([code[s : s + _LEN] for s in start])
    y = code[start + _LEN]
    return {"x": x[:WINDOW], "y": y[:WINDOW], "x_test": x[WINDOW:], "y_test": y[WINDOW:]}


def noise_like(real: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``real``'s arrays, same shapes and dtypes, filled with noise: integer arrays (labels, tokens) permuted,
    float arrays drawn from N(0, 1) (seed 0)."""
    rng = np.random.default_rng(0)
    return {
        k: rng.permutation(v.reshape(-1)).reshape(v.shape)
        if v.dtype.kind == "i"
        else rng.normal(size=v.shape).astype(v.dtype)
        for k, v in real.items()
    }


@functools.cache
def _dataset(name: str) -> dict[str, np.ndarray]:
    from sklearn import datasets

    if name.startswith("noise-"):  # timing and plumbing checks: the shapes of a data set, filled with noise
        return noise_like(_dataset(name[6:]))
    if name == "blobs":
        x, y = datasets.make_blobs(n_samples=1500, n_features=16, centers=8, cluster_std=6.0, random_state=41)
        return _split(x, y, classify=True, seed=41)
    if name == "scurve":
        x, t = datasets.make_s_curve(n_samples=1500, noise=0.05, random_state=42)
        return _split(x, t, classify=False, seed=42)
    if name == "source":
        return _source(43, 1500)
    if name == "swissroll":
        x, t = datasets.make_swiss_roll(n_samples=1500, noise=0.5, random_state=44)
        bins = np.minimum(((t - t.min()) / (t.max() - t.min()) * 6).astype(np.int32), 5)
        return _split(x, bins, classify=True, seed=44)
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


def _transformer_init(rng: np.random.Generator) -> Any:
    def mat(a: int, b: int) -> np.ndarray:
        return rng.normal(0.0, 1.0 / math.sqrt(a), (a, b)).astype(np.float32)

    return {
        "tok": rng.normal(0.0, 1.0, (_CLASSES, _D)).astype(np.float32),
        "pos": rng.normal(0.0, 1.0, (_LEN, _D)).astype(np.float32),
        "qkv": mat(_D, 3 * _D),
        "o": mat(_D, _D),
        "m1": _dense(rng, _D, 2 * _D),
        "m2": _dense(rng, 2 * _D, _D),
        "out": _dense(rng, _D, _CLASSES),
    }


def _layer_norm(x: Any) -> Any:
    mu = jnp.mean(x, axis=-1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(jnp.mean((x - mu) ** 2, axis=-1, keepdims=True) + 1e-5)


def _transformer(p: Any, seq: Any) -> Any:
    h = p["tok"][seq] + p["pos"]  # (batch, len, d)
    q, k, v = jnp.split(_layer_norm(h) @ p["qkv"], 3, axis=-1)
    heads = lambda a: a.reshape(*a.shape[:-1], _HEADS, _D // _HEADS)  # noqa: E731
    att = jnp.einsum("bihd,bjhd->bhij", heads(q), heads(k)) / math.sqrt(_D // _HEADS)
    att = jnp.where(jnp.tril(jnp.ones((_LEN, _LEN), bool)), att, -1e9)
    mix = jnp.einsum("bhij,bjhd->bihd", jax.nn.softmax(att, axis=-1), heads(v)).reshape(h.shape)
    h = h + mix @ p["o"]
    h = h + jax.nn.gelu(_layer_norm(h) @ p["m1"]["w"] + p["m1"]["b"]) @ p["m2"]["w"] + p["m2"]["b"]
    return _layer_norm(h[:, -1]) @ p["out"]["w"] + p["out"]["b"]


def _xent(logits: Any, y: Any) -> Any:
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


def _mse(pred: Any, y: Any) -> Any:
    return jnp.mean((pred[:, 0] - y) ** 2)


def argmax_hits(logits: Any, y: Any) -> Any:
    """The share of correct labels: the class of the largest logit (last axis) against ``y``."""
    return jnp.mean(jnp.argmax(logits, axis=-1) == y)


def _held_out(forward: Callable[..., Any], hits: Callable[[Any, Any], Any], p: Any, data: Any) -> Any:
    return hits(forward(p, data["x_test"]), data["y_test"])


R = TypeVar("R", bound=TaskV2)


def jax_task(
    record: type[R],
    name: str,
    dataset: str,
    model: tuple[Callable[..., Any], Callable[..., Any]],
    fit: Callable[[Any, Any], Any],
    hits: Callable[[Any, Any], Any] | None,
    optimizer: str,
    grid: tuple[float, ...],
    steps: int = 1000,
    batch: int | None = None,
) -> R:
    """A JAX task on ``dataset``: ``model`` is ``(init, forward)``; ``fit(outputs, targets)`` is the loss, on the
    first ``batch`` rows of each step's indices (all of them if None) and on all training rows; ``hits(outputs,
    targets)`` is the held-out accuracy (None: none). 5 evaluation seeds; the full loss every 10 updates (every 50
    past 2,000 updates)."""
    init, forward = model

    def loss(p: Any, data: Any, idx: Any) -> Any:
        rows = idx if batch is None else idx[:batch]
        return fit(forward(p, data["x"][rows]), data["y"][rows])

    def full_loss(p: Any, data: Any) -> Any:
        return fit(forward(p, data["x"]), data["y"])

    every = 10 if steps <= 2000 else 50
    return record(
        name,
        init,
        loss,
        full_loss,
        None if hits is None else functools.partial(_held_out, forward, hits),
        optimizer,
        grid,
        steps,
        eval_seeds=tuple(range(5)),
        eval_every=every,
        dataset=dataset,
    )


def _jax_task(
    name: str,
    dataset: str,
    init: Callable[..., Any],
    forward: Callable[..., Any],
    classify: bool,
    optimizer: str,
    grid: tuple[float, ...],
    steps: int = 1000,
    batch: int | None = None,
) -> TaskV2:
    fit, hits = (_xent, argmax_hits) if classify else (_mse, None)
    return jax_task(TaskV2, name, dataset, (init, forward), fit, hits, optimizer, grid, steps, batch)


def torch_task(record: type[R], name: str, dataset: str, model: Callable[[], Any]) -> R:
    """A PyTorch task on ``dataset``: ``model()`` builds the network, which ``benchmarks/no_tuning.py`` trains
    with cross-entropy and ``torch.optim.Adam`` for 500 updates (LR grid 1e-3 .. 1e-2, 5 evaluation seeds)."""
    return record(
        name,
        None,
        None,
        None,
        None,
        "adam",
        (1e-3, 3e-3, 1e-2),
        500,
        framework="torch",
        eval_seeds=tuple(range(5)),
        dataset=dataset,
        torch_model=model,
    )


def _blobs_model() -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(16, 64), torch.nn.GELU(), torch.nn.Linear(64, 64), torch.nn.GELU(), torch.nn.Linear(64, 8)
    )


HELD_OUT_V2: dict[str, TaskV2] = {
    "blobs_torch": torch_task(TaskV2, "blobs_torch", "blobs", _blobs_model),
    "scurve_long": _jax_task(
        "scurve_long", "scurve", *_mlp((3, 32, 32, 1), jnp.tanh), False, "sgdm", (0.01, 0.03, 0.1), steps=5000
    ),
    "source_transformer": _jax_task(
        "source_transformer",
        "source",
        _transformer_init,
        _transformer,
        True,
        "adam_clip",
        (1e-3, 3e-3, 1e-2),
        batch=TRANSFORMER_BATCH,
    ),
    "swissroll_b8": _jax_task(
        "swissroll_b8",
        "swissroll",
        *_mlp((3, 64, 64, 6), jax.nn.relu),
        True,
        "sgdm",
        (0.01, 0.03, 0.1),
        batch=SMALL_BATCH,
    ),
}


def noise_twin(task: TaskV2) -> TaskV2:
    """``task`` on data of the same shapes filled with noise (features ~ N(0, 1), labels permuted): for timing and
    plumbing checks that must not look at the held-out data."""
    import dataclasses

    return dataclasses.replace(task, name=f"noise_{task.name}", dataset=f"noise-{task.dataset}")
