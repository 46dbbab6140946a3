"""TASO: the sigmoidal two-phase LR curve of the Training Aware Sigmoidal Optimizer."""

from __future__ import annotations

from lrsched._core.backend import Array, Namespace
from lrsched._core.schedule import Schedule, register
from lrsched.schedules.curves import progress

__all__ = ["Taso", "taso"]


@register("taso")
class Taso(Schedule):
    """TASO's sigmoidal two-phase curve (Macêdo, Dreyer, Ludermir & Zanchettin, "Training Aware Sigmoidal
    Optimizer", arXiv 2102.08716): a high LR while the optimizer crosses saddle regions, then a low LR to settle
    into the minimum, joined by a logistic step in training progress ``x = min(t + offset, T) / T``
    (``T = total_steps``):

    ``lr(t) = end + (init - end) / (1 + exp(steepness * (x - midpoint)))``

    ``steepness`` is the authors' ``alpha``, ``midpoint`` their ``beta``, ``end_value`` their floor. The drop is
    centred where ``x = midpoint`` (there ``lr`` is half-way between ``init`` and ``end``) and its width is about
    ``4 T / steepness`` (from 88 % to 12 % of the way). ``step`` is in updates (or epochs, if you count epochs).
    Needs no state: a pure schedule.

    The defaults follow the first author's main experiments (github.com/dlmacedo/training-aware-sigmoidal-optimizer,
    ``agents/classification.py`` and ``run_main_image.sh``; the paper's text was not found offline), whose LR
    multiplier at epoch ``k`` of ``E`` (counted from 0, as torch's ``LambdaLR`` counts) is
    ``1 / (1 + exp(alpha ((k + 1) / E - beta))) + 0.001`` with ``alpha = 25``, ``beta = 0.7``:

    * ``steepness=25``, ``midpoint=0.7``: the drop is centred at 70 % of the budget;
    * ``end_value=None`` is their floor, ``0.001 * init_value`` (an explicit number replaces it);
    * ``offset=1``: step ``k`` reads the progress ``(k + 1) / T`` it has at its end, so the last step of the
      budget, ``T - 1``, is at ``x = 1``. ``offset=0`` reads ``k / T``, as the co-author's 2019 script
      (github.com/pedro-dreyer/masters_code, ``train.py``, ``tas``: ``alpha = 20``, ``beta = 0.5``, floor
      ``gamma = 1e-3``) does.

    One difference is kept: their floor is added on top of the whole logistic, ``init * (sigma + 0.001)``, so their
    curve starts at 1.001 x the initial LR; here the curve runs from ``init_value`` down to ``end_value`` (the
    co-author's ``(1 - gamma) sigma + gamma`` form), which is lower by ``0.001 * init_value * sigma``: at most 0.1 %
    of ``init_value``, 0.05 % at the midpoint. The ends are not exact: at the defaults ``lr(0)`` is below
    ``init_value`` by less than ``4e-7`` of the gap (for ``T >= 10``) and from step ``T - 1`` on ``lr`` is above
    ``end_value`` by ``1 / (1 + e^7.5) = 5.5e-4`` of it.

    Example:
        >>> from lrsched import taso
        >>> s = taso(init_value=0.1, total_steps=100)  # alpha = 25, beta = 0.7, floor 1e-4
        >>> round(s(0), 6), round(s(69), 6), round(s(99), 6)
        (0.1, 0.05005, 0.000155)
    """

    init_value: float
    total_steps: float
    end_value: float | None = None
    midpoint: float = 0.7
    steepness: float = 25.0
    offset: float = 1.0

    def _check(self) -> None:
        self._non_negative("init_value", "end_value", "offset")
        self._positive("total_steps")
        if not 0.0 <= self.midpoint <= 1.0:
            raise self._fail(f"midpoint must be in [0, 1], got {self.midpoint!r}")
        if not 0.0 < self.steepness <= 500.0:
            raise self._fail(f"steepness must be in (0, 500], got {self.steepness!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        end = FLOOR * self.init_value if self.end_value is None else self.end_value
        x = progress(t + self.offset, self.total_steps, xp)
        drop = 1.0 + xp.exp(self.steepness * (x - self.midpoint))
        return end + (self.init_value - end) / drop


FLOOR = 0.001  # the authors' floor, a fraction of the initial LR (``end_value=None``)
taso = Taso
