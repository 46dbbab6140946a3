"""TASO: the sigmoidal two-phase LR curve of the Training Aware Sigmoidal Optimizer."""

from __future__ import annotations

from typing import Any

from lrsched._core.backend import Namespace
from lrsched._core.schedule import Schedule, register
from lrsched.schedules.curves import progress

__all__ = ["Taso", "taso"]


@register("taso")
class Taso(Schedule):
    """TASO's sigmoidal two-phase curve (Macêdo, Dreyer, Ludermir & Zanchettin, "Training Aware Sigmoidal
    Optimizer", arXiv 2102.08716): a high LR while the optimizer crosses saddle regions, then a low LR to settle
    into the minimum, joined by a logistic step in training progress ``x = min(t, T) / T`` (``T = total_steps``):

    ``lr(t) = end + (init - end) / (1 + exp(steepness * (x - midpoint)))``

    ``steepness`` is the authors' ``alpha``, ``midpoint`` their ``beta``. The drop is centred at ``midpoint * T``
    (there ``lr`` is half-way between ``init`` and ``end``) and its width is about ``4 T / steepness`` (from 88 %
    to 12 % of the way). The ends are not exact: ``lr(0) = end + (init - end) / (1 + exp(-steepness * midpoint))``
    is a little below ``init_value`` and ``lr(T)`` a little above ``end_value`` (both within 1 % of the gap for
    ``steepness * min(midpoint, 1 - midpoint) >= 4.6``). ``step`` is in updates (or epochs, if you count epochs).
    Needs no state: a pure schedule.

    Checked against the authors' code (the paper's text was not found offline): in
    github.com/pedro-dreyer/masters_code (co-author), ``train.py`` (``tas``), the LR multiplier per epoch ``e`` of
    ``E`` is
    ``(1 - gamma) / (1 + exp(alpha (e / E - beta))) + gamma`` (defaults ``alpha = 20``, ``beta = 0.5``,
    ``gamma = 1e-3``), which is this curve with ``end_value = gamma * init_value``; in
    github.com/dlmacedo/training-aware-sigmoidal-optimizer (first author), ``agents/classification.py``
    (``taso``), it is ``1 / (1 + exp(alpha ((e + 1) / E - beta))) + 0.001``: the same logistic with
    ``0.001 * init`` added on top.

    Example:
        >>> s = taso(init_value=0.1, end_value=0.001, total_steps=100, midpoint=0.5, steepness=20.0)
        >>> round(s(0), 6), round(s(50), 6), round(s(100), 6)
        (0.099996, 0.0505, 0.001004)
    """

    init_value: float
    total_steps: float
    end_value: float = 0.0
    midpoint: float = 0.5
    steepness: float = 20.0

    def _check(self) -> None:
        self._non_negative("init_value", "end_value")
        self._positive("total_steps")
        if not 0.0 <= self.midpoint <= 1.0:
            raise self._fail(f"midpoint must be in [0, 1], got {self.midpoint!r}")
        if not 0.0 < self.steepness <= 500.0:
            raise self._fail(f"steepness must be in (0, 500], got {self.steepness!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        x = progress(t, self.total_steps, xp)
        drop = 1.0 + xp.exp(self.steepness * (x - self.midpoint))
        return self.end_value + (self.init_value - self.end_value) / drop


taso = Taso
