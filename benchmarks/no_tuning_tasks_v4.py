"""Held-out tasks of the no-tuning evaluation, fourth edition (issue 21), to be pre-registered in its protocol.

Committed before any method (the tournament, ProbeLR or a baseline) has run on them, and before the method of a
fourth edition exists. None of the data sets, generators, tasks or model families is used by the library's
benchmarks (digits, wine, diabetes, breast cancer, iris, ``make_classification``, ``make_friedman1``,
``make_gaussian_quantiles``, ``make_blobs``, ``make_s_curve``, ``make_swiss_roll``, ``make_moons``,
``make_friedman3``, ``make_multilabel_classification``, the associative-recall, next-character and sorting
transformers, the synthetic MLP, the character LM on the standard library's docstrings and comments), by
meta-training (``lrsched.learn.tasks``: quadratics, Gaussian least squares, softmax regression and ReLU MLPs on
random teachers, NMF) or by the first three editions. Data only from scikit-learn's generators or a fixed seed:

* ``circles_torch`` (**PyTorch**): ``make_circles`` (1,500 samples, noise 0.1, factor 0.4, seed 61), a 2-48-48-2
  ELU classifier built with ``torch.nn``, cross-entropy, ``torch.optim.Adam``, 500 updates.
* ``hastie_long``: ``make_hastie_10_2`` (1,500 samples, seed 62): the sign of a sum of squares of 10 Gaussian
  features, a 10-32-32-2 softplus network, cross-entropy, plain SGD, **5,000 updates**.
* ``maxrun_transformer``: a **small transformer** (two pre-norm blocks with a causal mask: token + position
  embeddings of width 16, two-head self-attention, a 16-64-16 GELU MLP each, a readout at every position) that
  outputs the running maximum: sequences of 10 digits (0-9) drawn uniformly with a fixed seed (63); the target at
  position ``i`` is the largest digit among positions ``0 .. i``; cross-entropy averaged over the 10 positions,
  Adam, minibatches of 16, 1,000 updates.
* ``sparse_b8``: ``make_sparse_uncorrelated`` (1,500 samples, 10 features of which 4 enter the target, seed 64):
  regress the standardised target, a 10-64-64-1 SiLU network, mean squared error, SGD with momentum 0.9,
  **minibatches of 8**.

Minibatch 32 unless said otherwise, 1,000 updates unless said otherwise, 1,200 train / 300 held out rows, features
standardised on the training rows (the digit sequences are tokens, not standardised). A run's seed draws its
initialisation and minibatch order. The tasks are the second edition's :class:`~benchmarks.no_tuning_tasks_v2.TaskV2`
records on this edition's data sets, as the third edition's are: the JAX tasks run through the convergence suite's
machinery, the PyTorch task's model and data are here. :func:`noise_twin` is the second edition's: the same shapes
filled with noise. The only computation on these data so far: their shapes (``tests/test_no_tuning_bench.py``
compares them with the noise twins') and the full training loss at initialisation of the transformer task (this
module's doctest); the harness's plumbing trains only the noise twins.

Example:
    >>> import numpy as np
    >>> sorted(HELD_OUT_V4)
    ['circles_torch', 'hastie_long', 'maxrun_transformer', 'sparse_b8']
    >>> t = HELD_OUT_V4["maxrun_transformer"]
    >>> 1.5 < float(t.full_loss(t.init(np.random.default_rng(0)), t.data)) < 3.5  # about log(10)
    True
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.no_tuning_tasks_v2 import (
    WINDOW,
    TaskV2,
    _dense,
    _layer_norm,
    _mlp,
    _mse,
    _split,
    _xent,
    argmax_hits,
    jax_task,
    noise_like,
    torch_task,
)
from benchmarks.no_tuning_tasks_v2 import noise_twin as noise_twin
from benchmarks.no_tuning_tasks_v3 import _xent_tokens

__all__ = ["HELD_OUT_V4", "TaskV4", "encoder", "noise_twin"]

SMALL_BATCH = 8
TRANSFORMER_BATCH = 16
_LEN, _DIGITS, _D, _HEADS, _BLOCKS = 10, 10, 16, 2, 2


@dataclass(frozen=True)
class TaskV4(TaskV2):
    """A :class:`~benchmarks.no_tuning_tasks_v2.TaskV2` whose ``dataset`` names one of this edition's data sets."""

    @property
    def data(self) -> dict[str, np.ndarray]:
        return _dataset(self.dataset)


def _running_max(seed: int, n: int) -> dict[str, np.ndarray]:
    """``n`` sequences of ``_LEN`` uniform digits and, at each position, the largest digit so far."""
    x = np.random.default_rng(seed).integers(0, _DIGITS, (n, _LEN)).astype(np.int32)
    y = np.maximum.accumulate(x, axis=1).astype(np.int32)
    return {"x": x[:WINDOW], "y": y[:WINDOW], "x_test": x[WINDOW:], "y_test": y[WINDOW:]}


@functools.cache
def _dataset(name: str) -> dict[str, np.ndarray]:
    from sklearn import datasets

    if name.startswith("noise-"):  # timing and plumbing checks: the shapes of a data set, filled with noise
        return noise_like(_dataset(name[6:]))
    if name == "circles":
        x, y = datasets.make_circles(n_samples=1500, noise=0.1, factor=0.4, random_state=61)
        return _split(x, y, classify=True, seed=61)
    if name == "hastie":
        x, y = datasets.make_hastie_10_2(n_samples=1500, random_state=62)
        return _split(x, (y > 0).astype(np.int32), classify=True, seed=62)
    if name == "running_max":
        return _running_max(63, 1500)
    if name == "sparse":
        x, y = datasets.make_sparse_uncorrelated(n_samples=1500, n_features=10, random_state=64)
        return _split(x, y, classify=False, seed=64)
    raise ValueError(f"unknown held-out data set {name!r}")


def encoder(tokens: int, length: int, width: int, heads: int, blocks: int, causal: bool) -> tuple[Any, Any]:
    """``(init, forward)`` of a pre-norm transformer over token sequences: token + position embeddings,
    ``blocks`` blocks of ``heads``-head self-attention (a causal mask if ``causal``) and a GELU MLP of 4x the width,
    and a readout of ``tokens`` logits at every position."""

    def init(rng: np.random.Generator) -> Any:
        def normal(*shape: int, fan_in: int = 1) -> np.ndarray:
            return rng.normal(0.0, 1.0 / math.sqrt(fan_in), shape).astype(np.float32)

        def block() -> dict[str, Any]:
            return {
                "qkv": normal(width, 3 * width, fan_in=width),
                "o": normal(width, width, fan_in=width),
                "m1": _dense(rng, width, 4 * width),
                "m2": _dense(rng, 4 * width, width),
            }

        return {
            "tok": normal(tokens, width),
            "pos": normal(length, width),
            "blocks": [block() for _ in range(blocks)],
            "out": _dense(rng, width, tokens),
        }

    def forward(p: Any, seq: Any) -> Any:
        h = p["tok"][seq] + p["pos"]  # (batch, length, width)
        allowed = jnp.tril(jnp.ones((length, length), bool)) if causal else jnp.ones((length, length), bool)

        def split_heads(a: Any) -> Any:
            return a.reshape(*a.shape[:-1], heads, width // heads)

        for b in p["blocks"]:
            q, k, v = jnp.split(_layer_norm(h) @ b["qkv"], 3, axis=-1)
            att = jnp.einsum("bihd,bjhd->bhij", split_heads(q), split_heads(k)) / math.sqrt(width // heads)
            att = jnp.where(allowed, att, -1e9)
            mixed = jnp.einsum("bhij,bjhd->bihd", jax.nn.softmax(att, axis=-1), split_heads(v)).reshape(h.shape)
            h = h + mixed @ b["o"]
            h = h + jax.nn.gelu(_layer_norm(h) @ b["m1"]["w"] + b["m1"]["b"]) @ b["m2"]["w"] + b["m2"]["b"]
        return _layer_norm(h) @ p["out"]["w"] + p["out"]["b"]

    return init, forward


def _circles_model() -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(2, 48), torch.nn.ELU(), torch.nn.Linear(48, 48), torch.nn.ELU(), torch.nn.Linear(48, 2)
    )


HELD_OUT_V4: dict[str, TaskV4] = {
    "circles_torch": torch_task(TaskV4, "circles_torch", "circles", _circles_model),
    "hastie_long": jax_task(
        TaskV4,
        "hastie_long",
        "hastie",
        _mlp((10, 32, 32, 2), jax.nn.softplus),
        _xent,
        argmax_hits,
        "sgd",
        (0.03, 0.1, 0.3),
        steps=5000,
    ),
    "maxrun_transformer": jax_task(
        TaskV4,
        "maxrun_transformer",
        "running_max",
        encoder(_DIGITS, _LEN, _D, _HEADS, _BLOCKS, causal=True),
        _xent_tokens,
        argmax_hits,
        "adam",
        (1e-3, 3e-3, 1e-2),
        batch=TRANSFORMER_BATCH,
    ),
    "sparse_b8": jax_task(
        TaskV4,
        "sparse_b8",
        "sparse",
        _mlp((10, 64, 64, 1), jax.nn.silu),
        _mse,
        None,
        "sgdm",
        (0.003, 0.01, 0.03),
        batch=SMALL_BATCH,
    ),
}
