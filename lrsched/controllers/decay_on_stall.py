"""``DecayOnStall``: warmup-stable-decay whose decay begins when the loss stops falling (loss only).

For a user who knows the peak LR and the budget but not when to start the decay. With ``B`` the budget in
optimizer updates (``step`` counts updates, 0-based), ``W = max(1, window * B)``, ``H = max(1, warmup * B)``
and ``x_t = log f(theta_t)`` the log loss:

* **warmup**: ``lr_t = peak * (t + 1) / H`` for ``t < H`` (``warmup=0``: the peak from the first update);
* **hold**: ``lr_t = peak``. From the end of the warmup, every ``W`` updates the EMA of ``x`` (rate ``2 / W``,
  started at the first loss) is compared with its value at the previous check; the first check at which it fell by
  less than ``progress`` (a relative fall of ``1 - exp(-progress)``), or the update where ``decay * B`` updates are
  left, whichever comes first, is ``S``, where the anneal begins;
* **anneal**: ``lr_t = peak * r(z)``, ``z = (t - S) / (B - S)``, ``r(z) = (1 - z) / (1/2 + (1 - z) / 2)`` (REX),
  reaching 0 at the end of the budget.

Non-finite losses are skipped by the EMA. Losses are taken as positive (below 1e-30 count as 1e-30).

Measured (``benchmarks/results/no_tuning_shape.md``, validation tasks only): started at the tuned best schedule's
peak, within 10% of the tuned best schedule's final loss on 10 of 14 tasks (REX 9, WSD 10); at the best of the
peak x {1/sqrt 3, 1, sqrt 3} on 13 of 14 (REX 10, WSD 11). It loses where the peak must be exact and the hold costs
(``friedman_long``: 1.84x at the tuned peak, REX 1.01x). It does not choose the peak: from an LR 10x off it is as
far off as a schedule (``no_tuning_tournament.md``).

References: warmup-stable-decay, Hu et al., "MiniCPM", 2024; REX, Chen et al., "REX: Revisiting Budgeted Training
with an Improved Schedule", MLSys 2022; the stall test, the plateau test of ``ReduceLROnPlateau`` on a smoothed log
loss.

Example:
    >>> from lrsched.controllers import DecayOnStall
    >>> c = DecayOnStall(init_lr=0.1, budget=200)  # warmup 10 updates, a check every 10
    >>> s = c.init()
    >>> round(c.lr(s), 6)  # the warmup's first LR: peak / 10
    0.01
    >>> for t in range(60):
    ...     s = c.update(s, 1.0)  # a flat loss: the anneal begins at the first check that sees it
    >>> int(s.begin), round(c.lr(s), 4)
    (20, 0.0875)
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, NamedTuple

from lrsched._core.backend import Namespace
from lrsched._core.validate import MAX_COUNT, integer, real_in
from lrsched.controllers.protocol import Controller, register_controller
from lrsched.schedules.curves import rex_between

__all__ = ["DecayOnStall", "StallState"]

_TINY = 1e-30


class StallState(NamedTuple):
    lr: Any  #: the LR of the next update
    step: Any  #: updates seen
    peak: Any  #: the LR held (the LR given to ``init``)
    slow: Any  #: EMA of the log loss
    mark: Any  #: ``slow`` at the last progress check
    check: Any  #: the update count of the next check (0: none scheduled yet)
    begin: Any  #: the update count when the anneal began (0: holding)


@register_controller("decay_on_stall")
@dataclasses.dataclass(frozen=True, kw_only=True)
class DecayOnStall(Controller[StallState]):
    """Warmup, hold the peak, and a REX anneal from the first check where the loss stalled (module docstring).

    Args:
        init_lr: the peak LR (or pass ``lr=`` to ``init``).
        budget: the run's length ``B`` in optimizer updates (>= 10).
        warmup: the linear warmup as a fraction of the budget, in [0, 1).
        window: the checks' spacing ``W`` as a fraction of the budget, in (0, 1]; the EMA's rate is ``2 / W``.
        progress: the anneal begins at the first check where the smoothed log loss fell by less than this since
            the previous check (>= 0).
        decay: ... or, at the latest, with this fraction of the budget left, in (0, 1].
    """

    init_lr: float | None = None
    budget: int = 1000
    warmup: float = 0.05
    window: float = 0.05
    progress: float = 0.05
    decay: float = 0.2

    positive_lr: ClassVar[bool] = True

    def __post_init__(self) -> None:
        o, put = self.owner, object.__setattr__
        put(self, "budget", integer(o, "budget", self.budget, 10, MAX_COUNT))
        put(self, "warmup", real_in(o, "warmup", self.warmup, low=0.0, high=1.0, high_open=True))
        put(self, "window", real_in(o, "window", self.window, low=0.0, low_open=True, high=1.0))
        put(self, "progress", real_in(o, "progress", self.progress, low=0.0))
        put(self, "decay", real_in(o, "decay", self.decay, low=0.0, low_open=True, high=1.0))
        super().__post_init__()

    def initial_state(self, lr: Any) -> StallState:
        return StallState(lr / max(1.0, self.warmup * self.budget), 0, lr, 0.0, 0.0, 0.0, 0.0)

    def rule(self, state: StallState, s: dict[str, Any], xp: Namespace) -> StallState:
        loss = s["loss"]
        finite = xp.isfinite(loss)
        x = xp.log(xp.maximum(xp.where(finite, loss, 1.0), _TINY))
        t1 = state.step + 1
        t1f = t1 + 0.0 * state.peak  # a float of the state's dtype
        w, warm = max(1.0, self.window * self.budget), max(1.0, self.warmup * self.budget)
        slow = xp.where(state.step == 0, x, state.slow + (2.0 / w) * (x - state.slow))
        slow = xp.where(finite, slow, state.slow)
        holding = (t1f >= warm) & (state.begin < 0.5)
        first = holding & (state.check < 0.5)
        due = holding & (state.check > 0.5) & (t1f >= state.check)
        go = holding & ((due & (state.mark - slow < self.progress)) | (t1f >= (1.0 - self.decay) * self.budget))
        begin = xp.where(go, t1f, state.begin)
        mark = xp.where(first | (due & (go == False)), slow, state.mark)  # noqa: E712
        check = xp.where(first, t1f + w, xp.where(due, state.check + w, state.check))
        z = xp.where(begin > 0.5, (t1f - begin) / xp.maximum(self.budget - begin, 1.0), 0.0)
        z = xp.minimum(xp.maximum(z, 0.0), 1.0)
        lr = state.peak * xp.where(t1f >= warm, rex_between(1.0, 0.0, 1.0 - z), xp.minimum(t1f + 1.0, warm) / warm)
        return StallState(lr, t1, state.peak, slow, mark, check, begin)
