"""ABEL (Lewkowycz, "How to decay your learning rate", arXiv 2103.12682): decay the LR when the weight norm bounces.

The squared total weight norm ``N_k = ||w||^2`` is sampled once every ``interval`` updates (the paper: once per
epoch; ``interval`` = updates per epoch), at the last update of each interval. With the differences
``D_k = N_k - N_{k-1}``, a *turn* is ``D_k * D_{k-1} < 0`` (the norm changed direction). The paper's rule
(its Algorithm 1) keeps one flag, ``reached_minimum``:

* a turn while the flag is off sets it: the norm has bounced (it fell, and now rises);
* a turn while the flag is on multiplies the LR by ``factor`` and clears it: the norm has stopped rising
  (it has equilibrated after the bounce) -- "Automatic Bouncing into Equilibration".

Plus the paper's final decay near the end of a known budget: with ``total_steps`` set, the LR is multiplied by
``factor`` once more at update ``floor(final_fraction * total_steps)`` (``final_fraction=0.85`` by default; set
``total_steps=None`` to leave it out).

Checked against the paper's text (section 2 and Algorithm 1 "ABEL Scheduler"): the weight norm is the sum over
layers of the squared L2 norms, compared between subsequent epochs; a sign change of
``(|w_t|^2 - |w_{t-1}|^2) * (|w_{t-1}|^2 - |w_{t-2}|^2)`` sets ``reached_minimum`` if it is off, and if it is on
multiplies the LR by ``decay_factor`` and clears it; ``if t = last_decay_epoch`` decays once more, "at around 85%
of the total training time" (the paper's choice for all its runs; it reports the value matters little). Its
reference decay factors are 0.2 (CIFAR) and 0.1 (others). This module follows that rule; sampling every
``interval`` updates stands for "per epoch". The LR never falls below ``min_lr``. Declares the signal ``"param_norm"``
(``||theta_t||_2``, the adapters' convention; it is squared here). NaN/inf norms are skipped (not sampled).

Units: one ``update`` per optimizer update; ``interval``, ``total_steps`` in updates.

The rule needs a smooth norm: sample it once per epoch as the paper does. A noisy norm sampled often turns again
and again once the LR is small, and every second turn decays (measured in the logistic regression of
``tests/test_abel.py`` with minibatch SGD, batch 32, ``interval=20``: 16 decays in 3000 updates); ``min_lr``
bounds the damage.

Example:
    >>> from lrsched import ABEL
    >>> abel = ABEL(init_lr=1.0, factor=0.1)
    >>> s = abel.init()
    >>> for norm in (3.0, 2.0, 1.0, 1.5, 2.0, 1.9):   # falls, bounces at 1.0, rises, stops rising
    ...     s = abel.update(s, {"param_norm": norm})
    >>> s.lr
    0.1
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar, NamedTuple

from lrsched._core.backend import Namespace
from lrsched._core.validate import MAX_COUNT, integer, real_in
from lrsched.controllers.ops import finite_or
from lrsched.controllers.protocol import Controller, register_controller

__all__ = ["ABEL", "ABELState"]


class ABELState(NamedTuple):
    lr: Any  #: the LR of the next update
    step: Any  #: updates seen
    norm_sq: Any  #: the last sampled ||w||^2
    diff: Any  #: the last difference of sampled ||w||^2 (0 until two samples)
    samples: Any  #: samples taken, capped at 2 (a turn needs two differences, i.e. three samples)
    reached_minimum: Any  #: 1 after a bounce, until the next turn decays the LR
    decays: Any  #: decays applied so far (bounce decays and the final one)


@register_controller("abel")
@dataclasses.dataclass(frozen=True, kw_only=True)
class ABEL(Controller[ABELState]):
    """ABEL's rule (module docstring) on the ``param_norm`` signal.

    Args:
        init_lr: initial LR (or ``init(lr=...)``).
        factor: decay factor in (0, 1) (the paper: 0.1).
        interval: updates between two norm samples (>= 1; the paper: one epoch).
        total_steps: the training budget in updates, for the final decay (None: no final decay).
        final_fraction: the final decay happens at ``floor(final_fraction * total_steps)``, in (0, 1].
        min_lr: the LR never decays below this.
    """

    init_lr: float | None = None
    factor: float = 0.1
    interval: int = 1
    total_steps: int | None = None
    final_fraction: float = 0.85
    min_lr: float = 0.0

    signals: ClassVar[tuple[str, ...]] = ("param_norm",)

    def __post_init__(self) -> None:
        o, put = self.owner, object.__setattr__
        put(self, "factor", real_in(o, "factor", self.factor, low=0.0, high=1.0, low_open=True, high_open=True))
        put(self, "interval", integer(o, "interval", self.interval, 1, MAX_COUNT))
        if self.total_steps is not None:
            put(self, "total_steps", integer(o, "total_steps", self.total_steps, 1, MAX_COUNT))
        put(self, "final_fraction", real_in(o, "final_fraction", self.final_fraction, low=0.0, high=1.0, low_open=True))
        put(self, "min_lr", real_in(o, "min_lr", self.min_lr, low=0.0))
        super().__post_init__()

    @property
    def signal_interval(self) -> int:  # the norm is sampled at the last update of each interval only
        return self.interval

    @property
    def final_step(self) -> int | None:
        """The update at which the final decay happens (None without ``total_steps``)."""
        return None if self.total_steps is None else math.floor(self.final_fraction * self.total_steps)

    def lr_bounds(self, group: int) -> tuple[float, float | None]:
        return self.min_lr, None

    def initial_state(self, lr: Any) -> ABELState:
        return ABELState(lr, 0, 0.0, 0.0, 0, 0, 0)

    def rule(self, state: ABELState, s: dict[str, Any], xp: Namespace) -> ABELState:
        norm = s["param_norm"]
        sq, finite = finite_or(norm * norm, state.norm_sq, xp)
        sample = finite & ((state.step + 1) % self.interval == 0)
        diff = sq - state.norm_sq
        turn = sample & (state.samples >= 2) & (diff * state.diff < 0)
        decay = turn & (state.reached_minimum == 1)
        if self.final_step is not None:
            final = state.step == self.final_step
            decay_count = xp.where(decay, 1, 0) + xp.where(final, 1, 0)
        else:
            decay_count = xp.where(decay, 1, 0)
        lr = state.lr * xp.where(decay_count >= 1, self.factor, 1.0) * xp.where(decay_count >= 2, self.factor, 1.0)
        return ABELState(
            lr=xp.maximum(lr, self.min_lr),
            step=state.step + 1,
            norm_sq=xp.where(sample, sq, state.norm_sq),
            diff=xp.where(sample & (state.samples >= 1), diff, state.diff),
            samples=xp.where(sample, xp.minimum(state.samples + 1, 2), state.samples),
            reached_minimum=xp.where(turn, 1 - state.reached_minimum, state.reached_minimum),
            decays=state.decays + decay_count,
        )
