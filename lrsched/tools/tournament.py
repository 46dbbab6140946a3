"""A tournament of peak LRs that keeps its winner, for any framework (experimental).

For a user who knows the budget and only a rough LR ``lr`` (off by up to 10x either way). You give
``train(member, lrs, start) -> (member, losses)``: train a *copy* of ``member`` (whatever holds your parameters and
optimizer state) for ``len(lrs)`` updates at the LRs ``lrs`` (one per update, a NumPy array), on your minibatches
``start, start + 1, ...``, and return the trained copy and the minibatch losses. With ``B`` the budget in optimizer
updates, ``k1 = max(4, round(rounds[0] * B))`` and ``k2 = max(4, round(rounds[1] * B))``:

* **round 1**: every candidate ``lr * m``, ``m`` in ``grid``, trains from ``init`` on minibatches ``0 .. k1 - 1``:
  a linear warmup over the first ``k1 // 2`` updates, then the candidate. Its score is the mean of its losses over
  the second half of the round (not finite: ``inf``);
* **round 2**: the ``keep`` best go on, each from its own state, at their LR on minibatches ``k1 .. k1 + k2 - 1``,
  scored the same way; the best wins (ties: the first in ``grid``'s order).

Every update of every candidate is charged: ``used = len(grid) * k1 + keep * k2``. The winner has trained
``k1 + k2`` of them, so its run goes on from minibatch ``k1 + k2`` for ``B - used`` more updates;
:meth:`TournamentResult.anneal` gives the controller for them, ``lrsched.controllers.DecayOnStall`` from the
winner's LR. Candidates of one round see the same minibatches, so they are compared on equal terms.

Measured on 15 validation tasks (``benchmarks/results/no_tuning_tournament.md``; started at the tuned best schedule's
peak LR x 1/10 to 10): the geometric mean of the final loss's ratio to the tuned best schedule's is 1.27 (the frozen
``ProbeLR`` 1.69), and the pick does not move with the start; but it is within 10% of the tuned best on 6 of 15
tasks, where the losers' share of the budget costs: prefer a tuned schedule when you can afford a sweep. The
settings were chosen on these tasks; no held-out task has seen them.

Example:
    >>> import numpy as np
    >>> from lrsched.tools.tournament import peak_tournament
    >>> def train(w, lrs, start):  # gradient descent on 0.5 * w**2 (best LR 1; above 2 it diverges)
    ...     losses = []
    ...     for lr in lrs:
    ...         losses.append(0.5 * w * w)
    ...         w = w - lr * w
    ...     return w, np.asarray(losses)
    >>> r = peak_tournament(train, 3.0, lr=0.1, budget=400)
    >>> round(r.lr, 6), r.used, r.next_batch  # the start LR x 9 wins; 5 x 4 + 2 x 8 updates charged
    (0.9, 36, 12)
    >>> rest = r.anneal()  # decay on stall from 0.9 over the 364 updates left
    >>> rest.init_lr, rest.budget, round(rest.window * rest.budget)  # a check every 20 updates: 5% of 400
    (0.9, 364, 20)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lrsched._core.validate import MAX_COUNT, integer, real_in

__all__ = ["TournamentResult", "peak_tournament"]

#: The defaults: the start LR x 3**k, k = -2 .. 2 (for a start off by up to 10x either way one candidate is within
#: 3x of the best peak), rounds of 1% and 2% of the budget, and two go on to round 2.
GRID = (1.0 / 9.0, 1.0 / 3.0, 1.0, 3.0, 9.0)
ROUNDS = (0.01, 0.02)
KEEP = 2


@dataclass(frozen=True)
class TournamentResult:
    """What :func:`peak_tournament` found: the ``winner`` (as ``train`` returned it), its LR, the updates ``used``
    (every candidate's), the minibatch its run goes on from, each candidate's scores (LR -> score), and ``lrs``: the
    LRs the winner trained at, one per update of its two rounds (``next_batch`` of them: its warmup, then its LR)."""

    winner: Any
    lr: float
    used: int
    next_batch: int
    budget: int
    scores: dict[float, float]
    finalists: dict[float, float]
    lrs: tuple[float, ...] = ()

    def anneal(self, window: float = 0.05, progress: float = 0.05, decay: float = 0.2) -> Any:
        """The rest of the run: ``lrsched.controllers.DecayOnStall`` from the winner's LR over the
        ``budget - used`` updates left, with no warmup, a check every ``window`` of the whole budget, and REX at the
        latest with ``decay`` of the whole budget left (the fractions are of the whole budget, as measured)."""
        from lrsched.controllers.decay_on_stall import DecayOnStall

        left = self.budget - self.used
        return DecayOnStall(
            init_lr=self.lr,
            budget=left,
            warmup=0.0,
            window=window * self.budget / left,
            progress=progress,
            decay=decay * self.budget / left,
        )


def _score(losses: Any) -> float:
    """The mean loss over the round's second half (``inf`` where it is not finite)."""
    values = np.asarray(losses, dtype=np.float64).reshape(-1)
    value = float(np.mean(values[len(values) // 2 :]))
    return value if math.isfinite(value) else math.inf


def peak_tournament(
    train: Callable[[Any, np.ndarray, int], tuple[Any, Any]],
    init: Any,
    lr: float,
    budget: int,
    *,
    grid: Sequence[float] = GRID,
    rounds: tuple[float, float] = ROUNDS,
    keep: int = KEEP,
) -> TournamentResult:
    """Train candidate peak LRs for a few updates each and keep the best (module docstring for the rules).

    Args:
        train: ``train(member, lrs, start) -> (member, losses)``; it must not change ``member`` in place (copy a
            torch model's and optimizer's ``state_dict``; JAX arrays are immutable).
        init: the member every candidate starts from (parameters and optimizer state at initialisation).
        lr: the rough LR (> 0).
        budget: the run's length ``B`` in optimizer updates; every candidate's updates count against it.
        grid: the candidates as multiples of ``lr`` (positive).
        rounds: round 1's and round 2's length per candidate, as fractions of the budget, each in (0, 0.5].
        keep: how many go on to round 2 (1 .. ``len(grid)``).
    """
    owner = "peak_tournament"
    if not callable(train):
        raise TypeError(f"{owner}: train must be callable, got {train!r}")
    lr = real_in(owner, "lr", lr, low=0.0, low_open=True)
    budget = integer(owner, "budget", budget, 10, MAX_COUNT)
    grid = tuple(real_in(owner, "grid", m, low=0.0, low_open=True) for m in grid)
    if not grid:
        raise ValueError(f"{owner}: grid must hold at least one multiple of lr, got ()")
    if len(rounds) != 2:
        raise ValueError(f"{owner}: rounds must be two fractions of the budget, got {rounds!r}")
    rounds = (
        real_in(owner, "rounds[0]", rounds[0], low=0.0, low_open=True, high=0.5),
        real_in(owner, "rounds[1]", rounds[1], low=0.0, low_open=True, high=0.5),
    )
    keep = integer(owner, "keep", keep, 1, len(grid))
    k1, k2 = (max(4, round(f * budget)) for f in rounds)
    used = len(grid) * k1 + keep * k2
    if used >= budget:
        raise ValueError(
            f"{owner}: the rounds charge {used} updates ({len(grid)} x {k1} + {keep} x {k2}), which leaves nothing of "
            f"budget={budget}; use a longer budget, shorter rounds or fewer candidates"
        )
    ramp = np.minimum(1.0, np.arange(1, k1 + 1) / max(1, k1 // 2))
    first = []
    for m in grid:
        member, losses = train(init, lr * m * ramp, 0)
        first.append((_score(losses), lr * m, member))
    second = []
    for _, rate, member in sorted(first, key=lambda x: x[0])[:keep]:
        member, losses = train(member, np.full(k2, rate), k1)
        second.append((_score(losses), rate, member))
    _, best, winner = min(second, key=lambda x: x[0])
    trained = np.concatenate([best * ramp, np.full(k2, best)])
    return TournamentResult(
        winner=winner,
        lr=best,
        used=used,
        next_batch=k1 + k2,
        budget=budget,
        scores={rate: score for score, rate, _ in first},
        finalists={rate: score for score, rate, _ in second},
        lrs=tuple(float(x) for x in trained),
    )
