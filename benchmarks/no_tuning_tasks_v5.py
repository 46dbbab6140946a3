"""Held-out tasks of the no-tuning evaluation, fifth edition (issue 21), to be pre-registered in its protocol.

Committed before any method of a fifth edition exists and before anything (a method or a baseline) has run on them.
None of the data sets, generators, tasks or model families is used by the library's benchmarks (digits, wine,
diabetes, breast cancer, iris, ``make_classification``, ``make_friedman1``, ``make_gaussian_quantiles``,
``make_blobs``, ``make_s_curve``, ``make_swiss_roll``, the associative-recall and next-character transformers, the
synthetic MLP, the character LM on the standard library's docstrings and comments), by meta-training
(``lrsched.learn.tasks``: quadratics, Gaussian least squares, softmax regression and ReLU MLPs on random teachers,
NMF) or by the first four editions (``make_moons``, ``make_friedman3``, ``make_multilabel_classification``, the
sorting transformer, ``make_circles``, ``make_hastie_10_2``, the running-maximum transformer,
``make_sparse_uncorrelated``). Data only from scikit-learn's generators or a fixed seed:

* ``motif_conv_torch`` (**PyTorch**, a new model family: a 1-D convnet): sequences of 32 Gaussian values (seed 71);
  half of them carry a fixed motif of 5 values (unit norm, scaled by 2.5) added at a random position, and the label
  says which half. A ``torch.nn`` network of two 5-wide convolutions (16 channels, ReLU), a max over positions and a
  16-2 readout; cross-entropy, ``torch.optim.Adam``, 500 updates.
* ``spirals_long``: three interleaved spiral arms in the plane (1,500 points, seed 72: radius ``t``, angle
  ``4 pi t + 2 pi k / 3``, ``t`` uniform in [0.1, 1], Gaussian noise 0.03), a 2-64-64-3 tanh network, cross-entropy,
  SGD with momentum 0.9, **5,000 updates**.
* ``reverse_transformer``: a **small transformer** (two pre-norm blocks without a mask: token + position embeddings
  of width 24, four-head self-attention, a 24-96-24 GELU MLP each, a readout at every position) that reverses a
  sequence of 8 digits (0-9, drawn uniformly with seed 73); cross-entropy averaged over the 8 positions, Adam,
  minibatches of 16, 1,000 updates.
* ``lowrank_b4``: ``make_regression`` (1,500 samples, 30 features of which 10 enter the target, effective rank 6,
  tail strength 0.4, noise 5, seed 74): regress the standardised target from ill-conditioned inputs, a 30-64-1 GELU
  network, mean squared error, Adam, **minibatches of 4**.

Minibatch 32 unless said otherwise, 1,000 updates unless said otherwise, 1,200 train / 300 held out rows, features
standardised on the training rows (the digit sequences are tokens, not standardised). A run's seed draws its
initialisation and minibatch order. The tasks are the second edition's :class:`~benchmarks.no_tuning_tasks_v2.TaskV2`
records on this edition's data sets, as the third and fourth editions' are; the transformer is the fourth's
:func:`~benchmarks.no_tuning_tasks_v4.encoder`, unmasked. :func:`noise_twin` is the second
edition's. The only computation on these data so far: their shapes (``tests/test_no_tuning_bench.py`` compares them
with the noise twins') and the full training loss at initialisation of the transformer task (this module's
doctest); the harness's plumbing trains only the noise twins.

Example:
    >>> import numpy as np
    >>> sorted(HELD_OUT_V5)
    ['lowrank_b4', 'motif_conv_torch', 'reverse_transformer', 'spirals_long']
    >>> t = HELD_OUT_V5["reverse_transformer"]
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
from benchmarks.no_tuning_tasks_v4 import encoder

__all__ = ["HELD_OUT_V5", "TaskV5", "noise_twin"]

SMALL_BATCH = 4
TRANSFORMER_BATCH = 16
_SEQ, _MOTIF = 32, 5
_LEN, _DIGITS = 8, 10


@dataclass(frozen=True)
class TaskV5(TaskV2):
    """A :class:`~benchmarks.no_tuning_tasks_v2.TaskV2` whose ``dataset`` names one of this edition's data sets."""

    @property
    def data(self) -> dict[str, np.ndarray]:
        return _dataset(self.dataset)


def _motifs(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noise sequences of ``_SEQ`` values; half carry the motif at a random position (label 1)."""
    rng = np.random.default_rng(seed)
    motif = rng.normal(size=_MOTIF)
    motif *= 2.5 / np.linalg.norm(motif)
    x = rng.normal(size=(n, _SEQ))
    y = rng.permutation(np.arange(n) % 2)
    for i in np.flatnonzero(y):
        at = rng.integers(0, _SEQ - _MOTIF + 1)
        x[i, at : at + _MOTIF] += motif
    return x, y


def _spirals(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on three interleaved spiral arms (label: the arm)."""
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % 3)
    t = rng.uniform(0.1, 1.0, n)
    angle = 4.0 * math.pi * t + 2.0 * math.pi * y / 3.0
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1) + rng.normal(0.0, 0.03, (n, 2))
    return x, y


def _reversal(seed: int, n: int) -> dict[str, np.ndarray]:
    """``n`` sequences of ``_LEN`` uniform digits and the same sequences reversed."""
    x = np.random.default_rng(seed).integers(0, _DIGITS, (n, _LEN)).astype(np.int32)
    y = np.ascontiguousarray(x[:, ::-1])
    return {"x": x[:WINDOW], "y": y[:WINDOW], "x_test": x[WINDOW:], "y_test": y[WINDOW:]}


@functools.cache
def _dataset(name: str) -> dict[str, np.ndarray]:
    from sklearn import datasets

    if name.startswith("noise-"):  # timing and plumbing checks: the shapes of a data set, filled with noise
        return noise_like(_dataset(name[6:]))
    if name == "motifs":
        return _split(*_motifs(71, 1500), classify=True, seed=71)
    if name == "spirals":
        return _split(*_spirals(72, 1500), classify=True, seed=72)
    if name == "reversal":
        return _reversal(73, 1500)
    if name == "lowrank":
        x, y = datasets.make_regression(
            n_samples=1500,
            n_features=30,
            n_informative=10,
            effective_rank=6,
            tail_strength=0.4,
            noise=5.0,
            random_state=74,
        )
        return _split(x, y, classify=False, seed=74)
    raise ValueError(f"unknown held-out data set {name!r}")


def _motif_model() -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Unflatten(1, (1, _SEQ)),
        torch.nn.Conv1d(1, 16, _MOTIF),
        torch.nn.ReLU(),
        torch.nn.Conv1d(16, 16, _MOTIF),
        torch.nn.ReLU(),
        torch.nn.AdaptiveMaxPool1d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 2),
    )


HELD_OUT_V5: dict[str, TaskV5] = {
    "motif_conv_torch": torch_task(TaskV5, "motif_conv_torch", "motifs", _motif_model),
    "spirals_long": jax_task(
        TaskV5,
        "spirals_long",
        "spirals",
        _mlp((2, 64, 64, 3), jnp.tanh),
        _xent,
        argmax_hits,
        "sgdm",
        (0.01, 0.03, 0.1),
        steps=5000,
    ),
    "reverse_transformer": jax_task(
        TaskV5,
        "reverse_transformer",
        "reversal",
        encoder(_DIGITS, _LEN, 24, 4, 2, causal=False),
        _xent_tokens,
        argmax_hits,
        "adam",
        (1e-3, 3e-3, 1e-2),
        batch=TRANSFORMER_BATCH,
    ),
    "lowrank_b4": jax_task(
        TaskV5,
        "lowrank_b4",
        "lowrank",
        _mlp((30, 64, 1), jax.nn.gelu),
        _mse,
        None,
        "adam",
        (3e-4, 1e-3, 3e-3),
        batch=SMALL_BATCH,
    ),
}
