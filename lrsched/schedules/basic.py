"""Basic schedules: constant, linear ramp, polynomial decay.

``step`` (written ``t``) counts optimizer updates from 0; fractional steps are
allowed. Every decay holds its end value after its last step (no oscillation, no rise).
"""

from __future__ import annotations

from lrsched._core.backend import Array, Namespace
from lrsched._core.schedule import Schedule, register
from lrsched.schedules.curves import (
    linear_between,
    progress,
    remaining,
)

__all__ = [
    "Constant",
    "Linear",
    "Polynomial",
    "constant",
    "linear",
    "polynomial",
]


@register("constant")
class Constant(Schedule):
    """``value`` at every step.

    ``value`` may be any finite number, negative included: constants also
    serve as offsets in schedule arithmetic (``schedule - constant(0.1)``).

    Example:
        >>> from lrsched import constant
        >>> constant(0.1)(1000)
        0.1
    """

    value: float

    def _eval(self, t: Array, xp: Namespace) -> Array:
        return xp.full_like(t, self.value)


@register("linear")
class Linear(Schedule):
    """Linear ramp, then hold: ``init + (end - init) * min(t, T) / T`` with ``T = transition_steps``.

    Step 0 gives ``init_value``, step ``T`` and later give ``end_value``.

    Example:
        >>> from lrsched import linear
        >>> linear(init_value=1.0, end_value=0.0, transition_steps=10)(5)
        0.5
    """

    init_value: float
    end_value: float
    transition_steps: float

    def _check(self) -> None:
        self._non_negative("init_value", "end_value")
        self._positive("transition_steps")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        return linear_between(self.init_value, self.end_value, progress(t, self.transition_steps, xp))


@register("polynomial")
class Polynomial(Schedule):
    """Polynomial decay: ``end + (init - end) * (1 - min(t, T) / T) ** power``, ``T = transition_steps``.

    Step 0 gives ``init_value``; step ``T`` and later give ``end_value``.
    ``power=1`` is linear decay (Keras ``PolynomialDecay``, Optax
    ``polynomial_schedule``; torch ``PolynomialLR`` is ``end_value=0``).

    Example:
        >>> from lrsched import polynomial
        >>> polynomial(init_value=1.0, end_value=0.0, transition_steps=10, power=2.0)(5)
        0.25
    """

    init_value: float
    end_value: float
    transition_steps: float
    power: float = 1.0

    def _check(self) -> None:
        self._non_negative("init_value", "end_value")
        self._positive("transition_steps")
        self._positive("power")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        left = remaining(t, self.transition_steps, xp)
        return self.end_value + (self.init_value - self.end_value) * xp.power(left, self.power)


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call.
constant = Constant
linear = Linear
polynomial = Polynomial
