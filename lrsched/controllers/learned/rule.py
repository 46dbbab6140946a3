"""The learned controller's rule, written once: the state, the base schedule, the MLP and one policy step.

:class:`lrsched.controllers.learned.LearnedLR` runs it with its weights as numbers; :mod:`lrsched.learn`
meta-trains it with the weights as (traced) arrays. Same function, every backend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from lrsched._core.backend import PYTHON, Array, Namespace, namespace_for
from lrsched.controllers.learned.features import FEATURE_SCALES, RATES, features_of

__all__ = ["LearnedState", "base_factor", "initial_state", "mlp", "policy_step"]

_TINY = 1e-30
_NONFINITE_FACTOR = 0.5


class LearnedState(NamedTuple):
    """The controller's state: numbers (or arrays of one backend; a JAX pytree)."""

    lr: Any  #: the LR for the next update (the policy's LR ``ctl`` times the base schedule)
    step: Any  #: updates so far
    lr0: Any  #: the initial LR (the policy sees ``lr / lr0``)
    horizon: Any  #: the run's length H in updates: the budget, or ``default_horizon`` when unknown
    known: Any  #: 1.0 when the budget is known, else 0.0
    loss0: Any  #: log of the first finite loss (NaN until one is seen)
    fast: Any  #: EMA of the log loss, ~10 steps
    mid: Any  #: ~40 steps
    slow: Any  #: ~160 steps
    var: Any  #: EMA of the squared deviation from ``fast``
    best: Any  #: lowest ``mid`` so far
    dlr: Any  #: EMA of the applied change of log lr
    ctl: Any  #: the policy's own LR, before the base schedule


def _tanh(z: Array, xp: Namespace) -> Array:
    """``tanh`` from ``exp`` (every backend has it): ``1 - 2 / (exp(2z) + 1)``, exact limits at +-inf."""
    return 1.0 - 2.0 / (xp.exp(2.0 * xp.minimum(z, 40.0)) + 1.0)


def base_factor(step: Array, horizon: Array, known: Array, schedule: tuple[float, float], xp: Namespace) -> Array:
    """The base schedule at update ``step``: ``min(1, (step+1)/(warmup H)) * clip((1 - step/H)/anneal, 0, 1)``.

    ``schedule`` = ``(warmup, anneal)``, fractions of the run (static numbers); 1 where the budget is unknown.
    """
    warmup, anneal = schedule
    factor: Any = 1.0
    if warmup > 0:
        factor = xp.minimum((step + 1.0) / (warmup * horizon), 1.0)
    if anneal > 0:
        factor = factor * xp.minimum(xp.maximum((1.0 - step / horizon) / anneal, 0.0), 1.0)
    if warmup > 0 or anneal > 0:
        factor = xp.where(known > 0.5, factor, 1.0)
    return factor


def mlp(inputs: Sequence[Array], w1: Any, b1: Any, w2: Any, b2: Any, xp: Namespace) -> Array:
    """``b2 + sum_j w2[j] * tanh(b1[j] + sum_i w1[j][i] * inputs[i])`` as explicit sums (any backend)."""
    z = b2
    for j in range(len(b1)):
        h = b1[j]
        row = w1[j]
        for i, f in enumerate(inputs):
            h = h + row[i] * f
        z = z + w2[j] * _tanh(h, xp)
    return z


def policy_step(
    state: LearnedState,
    loss: Any,
    net: tuple[Any, Any, Any, Any],
    features: tuple[str, ...],
    max_change: float,
    log_bounds: tuple[float, float],
    xp: Namespace,
    schedule: tuple[float, float] = (0.0, 0.0),
) -> LearnedState:
    """One update of the learned controller: the single rule, shared by :class:`LearnedLR` and meta-training.

    ``net`` = ``(w1, b1, w2, b2)``: nested sequences of numbers or arrays (traced, when meta-training).
    ``log_bounds``: ``(log min_scale, log max_scale)``. ``schedule``: ``(warmup, anneal)`` of the base.
    """
    finite = xp.isfinite(loss)
    x = xp.log(xp.maximum(xp.where(finite, loss, 1.0), _TINY))
    first = state.loss0 != state.loss0  # no finite loss seen yet (loss0 is NaN)
    new_first = first & finite
    x = xp.where(finite, x, state.fast)  # a non-finite loss leaves the EMAs where they are
    loss0 = xp.where(new_first, x, state.loss0)

    a_fast, a_mid, a_slow = (xp.minimum(r / state.horizon, 1.0) for r in RATES)

    def ema(a: Any, old: Any, new: Any) -> Any:
        return xp.where(finite, old + a * (new - old), old)

    fast, mid, slow = (
        xp.where(new_first, x, ema(a, old, x))
        for a, old in zip((a_fast, a_mid, a_slow), (state.fast, state.mid, state.slow))
    )
    dev = x - fast
    var = xp.where(new_first, 0.0, ema(a_fast, state.var, dev * dev))
    best = xp.where(new_first, mid, xp.minimum(state.best, mid))
    step = state.step + 1  # every update counts, a non-finite loss too (the EMAs start at the first finite one)
    seen = state._replace(step=step, loss0=loss0, fast=fast, mid=mid, slow=slow, var=var, best=best)
    feats = features_of(seen, xp)
    inputs = [feats[name] * FEATURE_SCALES[name] for name in features]
    z = mlp(inputs, *net, xp)
    per_step = max_change * 100.0 / state.horizon
    delta = xp.where(finite, per_step * _tanh(z, xp), math.log(_NONFINITE_FACTOR))
    lo, hi = log_bounds
    log_rel = xp.minimum(xp.maximum(xp.log(state.ctl / state.lr0) + delta, lo), hi)
    ctl = state.lr0 * xp.exp(log_rel)
    applied = xp.log(ctl / state.ctl)
    dlr = state.dlr + a_fast * (applied / per_step - state.dlr)
    lr = ctl * base_factor(step, state.horizon, state.known, schedule, xp)
    return seen._replace(lr=lr, dlr=dlr, ctl=ctl)


def initial_state(lr: Any, horizon: Any, known: Any, schedule: tuple[float, float] = (0.0, 0.0)) -> LearnedState:
    """The state before the first loss: Python numbers, or arrays where ``lr``, ``horizon`` or ``known`` (1.0 when
    the budget is known, else 0.0; a bool is accepted) are arrays, e.g. traced in meta-training."""
    k = float(known) if isinstance(known, (bool, int, float)) else known
    h = float(horizon) if isinstance(horizon, (int, float)) else horizon
    arrays = [v for v in (lr, h, k) if not isinstance(v, float)]
    xp = namespace_for(arrays[0]) if arrays else PYTHON
    first = lr * base_factor(0, h, k, schedule, xp) if any(schedule) else lr
    return LearnedState(first, 0, lr, h, k, math.nan, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, lr)
