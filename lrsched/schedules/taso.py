"""TASO: the sigmoidal two-phase LR curve of the Training Aware Sigmoidal Optimizer."""

from __future__ import annotations

from typing import Any

from lrsched._core.backend import Namespace
from lrsched._core.schedule import Schedule, register
from lrsched.schedules.curves import progress

__all__ = ["Taso", "taso"]


@register("taso")
class Taso(Schedule):
    """TASO's sigmoidal two-phase curve (Macêdo et al., "Training Aware Sigmoidal Optimizer", arXiv 2102.08716):
    a high LR while the optimizer crosses saddle regions, then a low LR to settle into the minimum, joined by a
    logistic step in training progress ``x = min(t, T) / T`` (``T = total_steps``):

    ``lr(t) = end + (init - end) * (s(x) - s(1)) / (s(0) - s(1))``,
    ``s(x) = 1 / (1 + exp(-steepness * (midpoint - x)))``.

    The affine normalisation makes the ends exact: step 0 gives ``init_value``, steps ``>= T`` give ``end_value``;
    the drop is centred at ``midpoint * T`` and its width is about ``4 T / steepness`` (from 88 % to 12 % of the
    way). ``steepness -> 0`` tends to a linear decay, large ``steepness`` to a step at ``midpoint * T``.
    ``step`` is in updates (or epochs, if you count epochs). Needs no state: a pure schedule.

    Example:
        >>> s = taso(init_value=0.1, end_value=0.001, total_steps=100, midpoint=0.5, steepness=10.0)
        >>> s(0), round(s(50), 6), s(100)
        (0.1, 0.0505, 0.001)
    """

    init_value: float
    total_steps: float
    end_value: float = 0.0
    midpoint: float = 0.5
    steepness: float = 10.0

    def _check(self) -> None:
        self._non_negative("init_value", "end_value")
        self._positive("total_steps")
        if not 0.0 <= self.midpoint <= 1.0:
            raise self._fail(f"midpoint must be in [0, 1], got {self.midpoint!r}")
        if not 0.0 < self.steepness <= 500.0:
            raise self._fail(f"steepness must be in (0, 500], got {self.steepness!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        k, m = self.steepness, self.midpoint
        x = progress(t, self.total_steps, xp)
        s, s0, s1 = (1.0 / (1.0 + xp.exp(k * (v - m))) for v in (x, 0.0, 1.0))  # fields may be arrays (join)
        return self.end_value + (self.init_value - self.end_value) * ((s - s1) / (s0 - s1))


taso = Taso
