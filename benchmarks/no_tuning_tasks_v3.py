"""Held-out tasks of the no-tuning evaluation, third edition (issue 21), to be pre-registered in the third
edition's protocol.

Committed before any method (ProbeLR or a baseline) has run on them. None of the data sets, generators, tasks or
model families is used by the library's benchmarks (digits, wine, diabetes, breast cancer, iris,
``make_classification``, ``make_friedman1``, ``make_gaussian_quantiles``, ``make_blobs``, ``make_s_curve``,
``make_swiss_roll``, the associative-recall transformer, the next-character transformer on standard-library
source, the synthetic MLP, the character LM on the standard library's docstrings and comments), by meta-training
(``lrsched.learn.tasks``: quadratics, Gaussian least squares, softmax regression and ReLU MLPs on random teachers,
NMF) or by the first two editions. Data only from scikit-learn's generators or a fixed seed:

* ``moons_torch`` (**PyTorch**): ``make_moons`` (1,500 samples, noise 0.25, seed 51), a 2-64-64-2 tanh
  classifier built with ``torch.nn``, cross-entropy, ``torch.optim.Adam``, 500 updates.
* ``friedman3_long``: ``make_friedman3`` (1,500 samples, noise 0.05, seed 52): regress the standardised target
  from the 4 standardised features, a 4-32-32-1 ELU network, Huber loss (delta 1), plain SGD,
  **5,000 updates**.
* ``sort_transformer``: a **small transformer** (one pre-norm encoder block: token + position embeddings of width
  16, four-head self-attention without a mask (every position sees the whole sequence), a 16-64-16 ReLU MLP, a
  readout at every position) that sorts: sequences of 8 digits (0-9) drawn uniformly with a fixed seed (53);
  the target at position ``i`` is the ``i``-th smallest digit; cross-entropy averaged over the 8 positions,
  Adam, minibatches of 16, 1,000 updates.
* ``multilabel_b4``: ``make_multilabel_classification`` (1,500 samples, 20 count features, 5 labels, 2 labels
  on average, seed 54), a 20-64-64-5 GELU network, binary cross-entropy of each label's logit averaged over the
  5 labels, SGD with momentum 0.9, **minibatches of 4**.

Minibatch 32 unless said otherwise, 1,000 updates unless said otherwise, 1,200 train / 300 held out rows,
features standardised on the training rows (the digit sequences are tokens, not standardised). A run's seed
draws its initialisation and minibatch order. Held-out accuracy: the share of correct labels (multi-label: of
the 300 x 5 label decisions; sorting: of the 300 x 8 output digits). The tasks are the second edition's
:class:`~benchmarks.no_tuning_tasks_v2.TaskV2` records on this edition's data sets: the JAX tasks run through
the convergence suite's machinery, the PyTorch task's model and data are here, and ``benchmarks/no_tuning.py``
trains it (with cross-entropy). :func:`noise_twin` is the second edition's: the same shapes filled with noise.
The only computation on these data so far: their shapes and label counts, the held-out accuracy at initialisation,
and the full training loss at initialisation (seeds 0-2: 0.72-0.79 for ``moons_torch`` and 0.68-0.69 for
``multilabel_b4``, about log 2; 2.37-2.52 for ``sort_transformer``, about log 10; Huber 0.35-0.38 for
``friedman3_long``).

Example:
    >>> import numpy as np
    >>> sorted(HELD_OUT_V3)
    ['friedman3_long', 'moons_torch', 'multilabel_b4', 'sort_transformer']
    >>> t = HELD_OUT_V3["sort_transformer"]
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
import optax

from benchmarks.no_tuning_tasks_v2 import (
    WINDOW,
    TaskV2,
    _dense,
    _layer_norm,
    _mlp,
    _split,
    _xent,
    argmax_hits,
    jax_task,
    noise_like,
    torch_task,
)
from benchmarks.no_tuning_tasks_v2 import noise_twin as noise_twin

__all__ = ["HELD_OUT_V3", "TaskV3", "noise_twin"]

SMALL_BATCH = 4
TRANSFORMER_BATCH = 16
_LEN, _DIGITS, _D, _HEADS = 8, 10, 16, 4


@dataclass(frozen=True)
class TaskV3(TaskV2):
    """A :class:`~benchmarks.no_tuning_tasks_v2.TaskV2` whose ``dataset`` names one of this edition's data sets."""

    @property
    def data(self) -> dict[str, np.ndarray]:
        return _dataset(self.dataset)


def _sorting(seed: int, n: int) -> dict[str, np.ndarray]:
    """``n`` sequences of ``_LEN`` uniform digits and each sequence sorted."""
    x = np.random.default_rng(seed).integers(0, _DIGITS, (n, _LEN)).astype(np.int32)
    y = np.sort(x, axis=1)
    return {"x": x[:WINDOW], "y": y[:WINDOW], "x_test": x[WINDOW:], "y_test": y[WINDOW:]}


@functools.cache
def _dataset(name: str) -> dict[str, np.ndarray]:
    from sklearn import datasets

    if name.startswith("noise-"):  # timing and plumbing checks: the shapes of a data set, filled with noise
        return noise_like(_dataset(name[6:]))
    if name == "moons":
        x, y = datasets.make_moons(n_samples=1500, noise=0.25, random_state=51)
        return _split(x, y, classify=True, seed=51)
    if name == "friedman3":
        x, y = datasets.make_friedman3(n_samples=1500, noise=0.05, random_state=52)
        return _split(x, y, classify=False, seed=52)
    if name == "sorting":
        return _sorting(53, 1500)
    if name == "multilabel":
        x, labels = datasets.make_multilabel_classification(
            n_samples=1500, n_features=20, n_classes=5, n_labels=2, random_state=54
        )
        return _split(x, labels, classify=True, seed=54)
    raise ValueError(f"unknown held-out data set {name!r}")


def _sorter_init(rng: np.random.Generator) -> Any:
    def normal(*shape: int, fan_in: int = 1) -> np.ndarray:
        return rng.normal(0.0, 1.0 / math.sqrt(fan_in), shape).astype(np.float32)

    per_head = (_HEADS, _D, _D // _HEADS)
    return {
        "tok": normal(_DIGITS, _D),
        "pos": normal(_LEN, _D),
        **{k: normal(*per_head, fan_in=_D) for k in ("q", "k", "v")},
        "o": normal(_HEADS, _D // _HEADS, _D, fan_in=_D),
        "m1": _dense(rng, _D, 4 * _D),
        "m2": _dense(rng, 4 * _D, _D),
        "out": _dense(rng, _D, _DIGITS),
    }


def _sorter(p: Any, seq: Any) -> Any:
    """Logits ``(batch, _LEN, _DIGITS)``: at each position, of the sorted sequence's digit there."""
    h = p["tok"][seq] + p["pos"]  # (batch, len, d)
    q, k, v = (jnp.einsum("bld,hde->bhle", _layer_norm(h), p[n]) for n in ("q", "k", "v"))
    weights = jax.nn.softmax(q @ jnp.swapaxes(k, -1, -2) / math.sqrt(_D // _HEADS), axis=-1)  # no mask
    h = h + jnp.einsum("bhle,hed->bld", weights @ v, p["o"])
    h = h + jax.nn.relu(_layer_norm(h) @ p["m1"]["w"] + p["m1"]["b"]) @ p["m2"]["w"] + p["m2"]["b"]
    return _layer_norm(h) @ p["out"]["w"] + p["out"]["b"]


def _xent_tokens(logits: Any, y: Any) -> Any:
    """Cross-entropy averaged over every position of every sequence."""
    return _xent(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _bce(logits: Any, y: Any) -> Any:
    """Binary cross-entropy of each label's logit, averaged over rows and labels."""
    return jnp.mean(jax.nn.softplus(logits) - y * logits)


def _huber(pred: Any, y: Any) -> Any:
    return jnp.mean(optax.huber_loss(pred[:, 0], y, delta=1.0))


def _label_hits(logits: Any, y: Any) -> Any:
    """The share of correct label decisions (a label is on where its logit is positive)."""
    return jnp.mean((logits > 0) == (y == 1))


def _moons_model() -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(2, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(), torch.nn.Linear(64, 2)
    )


HELD_OUT_V3: dict[str, TaskV3] = {
    "friedman3_long": jax_task(
        TaskV3,
        "friedman3_long",
        "friedman3",
        _mlp((4, 32, 32, 1), jax.nn.elu),
        _huber,
        None,
        "sgd",
        (0.03, 0.1, 0.3),
        steps=5000,
    ),
    "moons_torch": torch_task(TaskV3, "moons_torch", "moons", _moons_model),
    "multilabel_b4": jax_task(
        TaskV3,
        "multilabel_b4",
        "multilabel",
        _mlp((20, 64, 64, 5), jax.nn.gelu),
        _bce,
        _label_hits,
        "sgdm",
        (0.003, 0.01, 0.03),
        batch=SMALL_BATCH,
    ),
    "sort_transformer": jax_task(
        TaskV3,
        "sort_transformer",
        "sorting",
        (_sorter_init, _sorter),
        _xent_tokens,
        argmax_hits,
        "adam",
        (1e-3, 3e-3, 1e-2),
        batch=TRANSFORMER_BATCH,
    ),
}
