"""The loss-driven controllers of part 1: lrsched's GreedyLR and the paper's own rules.

``greedy_p{1,10}``: ``lrsched.GreedyLR`` configured as close to the paper's experiment code
(``AdvancedGreedyLR``) as its knobs allow: factor 0.9, min_lr 1e-5, max_lr 1, patience 1 or 10,
smoothing window 10 (that code smooths by default), cooldown and warm-up ``max(3, patience // 3)``,
absolute threshold 1e-6. What lrsched's rules lack is that code's dynamic threshold (``0.1 * std`` of the
last 10 losses) and its spike forgiveness.

``greedy_plain_p{1,10}``: the same factor, patience, threshold and bounds with the plain settings of the
reference class (``transformers.optimization.GreedyLR`` defaults: no smoothing, no cooldown, no warm-up).

Example:
    >>> sorted(greedy_controllers())[0]
    'greedy_p1'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from benchmarks.convergence.paper_greedy import PaperGreedy

__all__ = ["ScaledGreedyOn", "greedy_controllers", "lrsched_greedy", "lrsched_greedy_class"]


def lrsched_greedy_class() -> Any:
    """``lrsched.GreedyLR``, or None where this lrsched has none."""
    import lrsched

    return getattr(lrsched, "GreedyLR", None)


def lrsched_greedy(patience: int, **overrides: Any) -> Any:
    """``lrsched.GreedyLR`` with the paper's settings (None while lrsched has no GreedyLR)."""
    cls = lrsched_greedy_class()
    if cls is None:
        return None
    wait = max(3, patience // 3)
    kwargs: dict[str, Any] = dict(
        init_lr=0.01,
        factor=0.9,
        patience=patience,
        threshold=1e-6,
        threshold_mode="abs",
        window=10,
        cooldown=wait,
        warmup=wait,
        min_lr=1e-5,
        max_lr=1.0,
    )
    return cls(**(kwargs | overrides))


def greedy_controllers() -> dict[str, Any]:
    """Label -> controller with ``init(lr=)`` / ``update(state, loss)``; lrsched's first, then the paper's."""
    out: dict[str, Any] = {}
    for p in (1, 10):
        g = lrsched_greedy(p)
        if g is not None:
            out[f"greedy_p{p}"] = g
    for p in (1, 10):
        g = lrsched_greedy(p, window=1, cooldown=0, warmup=0)
        if g is not None:
            out[f"greedy_plain_p{p}"] = g
    for p in (1, 10):
        out[f"greedy_paper_p{p}"] = PaperGreedy(patience=p)
    return out


@dataclass(frozen=True)
class ScaledGreedyOn:
    """``lrsched.GreedyOn`` over a unit-peak schedule, scaled by each run's peak LR (a vmapped input).

    ``lr_t = peak * base(t) * g_t``: ``init(lr=peak)`` keeps the peak in the state, so runs at different
    peaks share one compiled function; ``g_t`` is GreedyOn's multiplier.

    Example:
        >>> import lrsched
        >>> c = ScaledGreedyOn(lrsched.GreedyOn(lrsched.constant(1.0), lrsched.GreedyLR(min_lr=0.5, max_lr=2.0)))
        >>> round(float(c.lr_of(c.init(lr=0.1))), 6)
        0.1
    """

    on: Any

    def init(self, lr: Any) -> tuple[Any, Any]:
        import jax.numpy as jnp

        return self.on.init(like=jnp.zeros(())), jnp.asarray(lr, jnp.float32)

    def update(self, state: tuple[Any, Any], value: Any) -> tuple[Any, Any]:
        return self.on.update(state[0], value), state[1]

    def lr_of(self, state: tuple[Any, Any]) -> Any:
        return state[1] * self.on.lr(state[0])
