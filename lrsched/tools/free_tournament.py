"""The schedule-free tournament: no LR tuning, no schedule (experimental).

For a user who knows the budget and only a rough LR ``lr`` (off by up to 10x either way). The run trains a
*schedule-free* optimizer (Defazio et al. 2024, "The Road Less Scheduled", arXiv:2405.15682): its base direction
``u`` (Adam without its first moment, or the plain gradient) moves ``z``, the gradient is taken at
``y = b1 x + (1 - b1) z`` and the parameters to evaluate are the weighted average ``x`` of the ``z``::

    z_{t+1} = z_t - lr_t u(y_t)
    x_{t+1} = (1 - c_{t+1}) x_t + c_{t+1} z_{t+1},   c_{t+1} = m_t^2 / sum_{i<=t} m_i^2,   m_t = max_{i<=t} lr_i
    y_{t+1} = b1 x_{t+1} + (1 - b1) z_{t+1}

(``t`` counts optimizer updates). The method, as the fifth held-out edition froze it (``no_tuning.md``):

1. :func:`lrsched.peak_tournament` at its defaults picks the LR, its candidates trained schedule-free (``train`` at
   the LRs it is given: the rounds' warmup, then the candidate's constant LR); every candidate's update counts
   against the budget;
2. the winner goes on at its LR, **constant** (``rest(result)``), for the ``budget - used`` updates left: the average
   ``x`` does what an anneal would, so the tournament's ``anneal()`` is not used;
3. evaluate (and ship) the average ``x``.

The LR is the base optimizer's: Adam's, or plain SGD's. An SGD with momentum ``mu`` moves ``lr / (1 - mu)`` per
unit gradient in the long run and its schedule-free form has no momentum (``b1`` interpolates instead), so
:func:`schedule_free_lr` converts its LR: ``lr / (1 - mu)``.

Framework paths: ``lrsched.adapters.optax.free_tournament`` (``optax.contrib.schedule_free`` over your direction)
and ``lrsched.adapters.torch.free_tournament`` (an optimizer of the ``schedulefree`` package). Keras 3 ships no
schedule-free optimizer, so there is no Keras path: use ``lrsched.adapters.keras.peak_tournament`` and its anneal.

Measured on validation tasks only before the held-out run (``benchmarks/results/no_tuning_free.md``, started at the
tuned best schedule's peak x 1/10 .. 10): within 10% of the tuned best schedule on 18 of 23 (the tournament with its
anneal: 9 of 20), below every rival of issue 21's target B on 7 of 16. It misses on two of four transformers, two
of four 5,000-update runs and one of three PyTorch tasks. Only the SGD-with-momentum conversion was chosen on them
(from a sweep on five of them); the rest are the tournament's and the authors' defaults. The held-out result is in
``benchmarks/results/no_tuning.md``.

Example:
    >>> import numpy as np
    >>> from lrsched.tools.free_tournament import free_tournament, rest
    >>> def train(member, lrs, start):  # schedule-free gradient descent on 0.5 * w**2, member = (z, x, weight sum)
    ...     z, x, total, top = member
    ...     losses = []
    ...     for lr in lrs:
    ...         y = 0.9 * x + 0.1 * z
    ...         losses.append(0.5 * y * y)
    ...         z = z - lr * y
    ...         top = max(top, lr)
    ...         total += top**2
    ...         x = x + (top**2 / total) * (z - x)
    ...     return (z, x, total, top), np.asarray(losses)
    >>> won = free_tournament(train, (3.0, 3.0, 0.0, 0.0), lr=0.1, budget=400)
    >>> round(won.lr, 6), won.used, won.next_batch
    (0.9, 36, 12)
    >>> rest(won)(0), won.budget - won.used  # the winner's LR, constant, for the updates left
    (0.9, 364)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from lrsched._core.schedule import Schedule
from lrsched._core.validate import real_in
from lrsched.schedules import constant
from lrsched.tools.tournament import TournamentResult, peak_tournament

__all__ = ["B1", "free_tournament", "rest", "schedule_free_lr"]

#: The interpolation weight of schedule-free's gradient point ``y`` (the authors' default).
B1 = 0.9


def schedule_free_lr(lr: float, momentum: float = 0.0) -> float:
    """The schedule-free LR for an SGD built with ``lr`` and ``momentum``: ``lr / (1 - momentum)`` (an SGD with
    momentum ``mu`` moves ``lr / (1 - mu)`` per unit gradient in the long run; its schedule-free form has none).
    Adam's LR carries over unchanged (give ``momentum=0``).

    >>> from lrsched.tools.free_tournament import schedule_free_lr
    >>> schedule_free_lr(0.01, 0.5)
    0.02
    """
    lr = real_in("schedule_free_lr", "lr", lr, low=0.0, low_open=True)
    momentum = real_in("schedule_free_lr", "momentum", momentum, low=0.0, high=1.0, high_open=True)
    return float(np.float64(lr) / (1.0 - np.float64(momentum)))


def free_tournament(
    train: Callable[[Any, np.ndarray, int], tuple[Any, Any]], init: Any, lr: float, budget: int
) -> TournamentResult:
    """Step 1 of the method (module docstring): :func:`lrsched.peak_tournament` at its defaults, ``train``
    training a schedule-free optimizer. Go on from ``result.winner`` at ``rest(result)`` for ``budget - result.used``
    updates, from minibatch ``result.next_batch``; evaluate the average ``x``."""
    return peak_tournament(train, init, lr, budget)


def rest(result: TournamentResult) -> Schedule:
    """Step 2: the LR for the updates left, the winner's, constant (as an lrsched schedule: any backend)."""
    return constant(result.lr)
