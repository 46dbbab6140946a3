"""The GreedyLR rules the paper's experiments ran (its ``AdvancedGreedyLR``), re-derived as a JAX controller.

Used only to separate "different rules" from "different setup" when our numbers differ from the
paper's. Per step, with ``h`` the raw losses seen so far (``n = len(h)``):

1. spike forgiveness: if ``n > 5`` and ``loss > 2 * mean(h[-5:])``, ``bad = max(bad - 2, 0)``;
2. the decision value is ``mean(h[-10:])`` (window 10), the threshold ``max(1e-6, 0.1 * std(h[-10:]))``
   once ``n > 10`` (else ``1e-6``), absolute;
3. a new best (``value < best - threshold``) counts a good step, anything else a bad one;
4. cooldown / warm-up counters zero the bad / good counts while they run;
5. ``bad > patience``: ``lr = max(factor * lr, min_lr)``, cooldown ``max(3, patience // 3)``;
   ``good > patience``: ``lr = min(lr / factor, max_lr)``, warm-up ``max(3, patience // 3)``.

The reference's "momentum" term is identically zero (it starts at 0 and is only ever multiplied), and
its adaptive patience is off in the paper's grid, so both are left out.

Example:
    >>> c = PaperGreedy(patience=1)
    >>> s = c.init(lr=0.01)
    >>> for loss in [5.0, 4.0, 3.0, 2.0]:
    ...     s = c.update(s, loss)
    >>> float(s.lr) > 0.01
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import jax.numpy as jnp

__all__ = ["PaperGreedy", "PaperGreedyState"]

_WINDOW = 10


class PaperGreedyState(NamedTuple):
    lr: Any
    best: Any
    bad: Any
    good: Any
    cooldown: Any
    warmup: Any
    buf: Any  # ring buffer of the last 10 raw losses
    n: Any  # losses seen


@dataclass(frozen=True)
class PaperGreedy:
    """Settings of the paper's GreedyLR (defaults: the paper's grid, factor 0.9, min_lr 1e-5, max_lr 1)."""

    patience: int = 10
    factor: float = 0.9
    min_lr: float = 1e-5
    max_lr: float = 1.0

    def init(self, lr: Any) -> PaperGreedyState:
        z = jnp.zeros((), jnp.int32)
        return PaperGreedyState(jnp.asarray(lr, float), jnp.inf, z, z, z, z, jnp.zeros(_WINDOW), z)

    def update(self, s: PaperGreedyState, loss: Any) -> PaperGreedyState:
        n = s.n + 1
        buf = s.buf.at[s.n % _WINDOW].set(loss)
        age = (s.n - jnp.arange(_WINDOW)) % _WINDOW  # 0 = newest
        filled = age < jnp.minimum(n, _WINDOW)
        last5 = jnp.sum(jnp.where(age < 5, buf, 0.0)) / 5.0
        bad = jnp.where((n > 5) & (loss > 2.0 * last5), jnp.maximum(s.bad - 2, 0), s.bad)
        value = jnp.sum(jnp.where(filled, buf, 0.0)) / jnp.minimum(n, _WINDOW)
        threshold = jnp.where(n > _WINDOW, jnp.maximum(1e-6, 0.1 * jnp.std(buf)), 1e-6)
        better = value < s.best - threshold
        best = jnp.where(better, value, s.best)
        bad, good = jnp.where(better, 0, bad + 1), jnp.where(better, s.good + 1, 0)
        bad = jnp.where(s.cooldown > 0, 0, bad)
        good = jnp.where(s.warmup > 0, 0, good)
        cooldown, warmup = jnp.maximum(s.cooldown - 1, 0), jnp.maximum(s.warmup - 1, 0)
        wait = max(3, self.patience // 3)
        down, lr = bad > self.patience, s.lr
        lr = jnp.where(down, jnp.maximum(lr * self.factor, self.min_lr), lr)
        cooldown, bad = jnp.where(down, wait, cooldown), jnp.where(down, 0, bad)
        up = good > self.patience
        lr = jnp.where(up, jnp.minimum(lr / self.factor, self.max_lr), lr)
        warmup, good = jnp.where(up, wait, warmup), jnp.where(up, 0, good)
        return PaperGreedyState(lr, best, bad, good, cooldown, warmup, buf, n)
