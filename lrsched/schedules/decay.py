"""Exponential, inverse-time and inverse-square-root decays."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from lrsched._core.backend import Array, Namespace
from lrsched._core.schedule import Landmark, Schedule, register
from lrsched.schedules.curves import (
    linear_between,
    periods,
)

__all__ = [
    "ExponentialDecay",
    "NaturalExpDecay",
    "InverseTimeDecay",
    "InverseSqrt",
    "exponential_decay",
    "natural_exp_decay",
    "inverse_time_decay",
    "inverse_sqrt",
]


@register("exponential_decay", structural={"decay_rate": lambda rate: rate < 1})
class ExponentialDecay(Schedule):
    """Rate-per-period decay: ``init * rate ** (t / period)``, ``period = transition_steps``.

    With ``staircase=True`` the exponent is ``floor(t / period)``. ``end_value``
    bounds the curve (a floor when ``rate < 1``, a ceiling when ``rate > 1``).
    ``rate = 1`` is the constant ``init_value``: an ``end_value`` other than
    ``init_value`` is refused there (Optax would give ``min(init, end)`` from
    step 0), as is ``init_value = 0`` with ``rate > 1`` (zero times an
    overflowing power would be NaN on arrays). Otherwise matches Optax
    ``exponential_decay`` and Keras ``ExponentialDecay``; torch
    ``ExponentialLR(gamma)`` is ``transition_steps=1``.

    Example:
        >>> from lrsched import exponential_decay
        >>> exponential_decay(init_value=1.0, decay_rate=0.5, transition_steps=10)(20)
        0.25
    """

    init_value: float
    decay_rate: float
    transition_steps: float = 1
    staircase: bool = False
    end_value: float | None = None

    def _check(self) -> None:
        self._non_negative("init_value", "end_value")
        self._positive("decay_rate")
        self._positive("transition_steps")
        if self.decay_rate > 1 and self.init_value == 0:
            raise self._fail("init_value must be > 0 when growing (decay_rate > 1), got 0")
        end = self.end_value
        if self.decay_rate == 1 and end is not None and end != self.init_value:
            raise self._fail(f"decay_rate = 1 is constant: end_value must be None or init_value, got {end!r}")
        if end is not None:
            if self.decay_rate < 1 and end > self.init_value:
                raise self._fail(f"end_value must be <= init_value when decaying, got {end!r}")
            if self.decay_rate > 1 and end < self.init_value:
                raise self._fail(f"end_value must be >= init_value when growing, got {end!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        if self.staircase:
            exponent = periods(t, self.transition_steps, xp)
        else:
            exponent = t / self.transition_steps
        value = self.init_value * xp.exp(exponent * self._log_rate())
        if self.end_value is None:
            return value
        bound = xp.maximum if self._decays() else xp.minimum  # one kind per stacked group (see ``structural``)
        return bound(value, self.end_value)

    def stacked_constants(self) -> dict[str, float]:
        return {"log_rate": self._log_rate(), "decays": self._decays()}

    def _log_rate(self) -> Any:
        """``log(decay_rate)`` in float64 (float32 would round the rate first); stacked in a join."""
        return self._cached("log_rate", lambda: math.log(self.decay_rate))

    def _decays(self) -> Any:
        return self._cached("decays", lambda: float(self.decay_rate < 1))


@register("natural_exp_decay")
class NaturalExpDecay(Schedule):
    """Continuous exponential decay: ``max(init * exp(-k * t), end_value)`` with ``k = decay_constant``.

    Example:
        >>> from lrsched.schedules.decay import math
        >>> from lrsched import natural_exp_decay
        >>> round(natural_exp_decay(init_value=1.0, decay_constant=math.log(2))(1), 12)
        0.5
    """

    init_value: float
    decay_constant: float
    end_value: float = 0.0

    def _check(self) -> None:
        self._non_negative("init_value", "decay_constant", "end_value")
        if self.end_value > self.init_value:
            raise self._fail(f"end_value must be <= init_value, got {self.end_value!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        return xp.maximum(self.init_value * xp.exp(-self.decay_constant * t), self.end_value)


@register("inverse_time_decay")
class InverseTimeDecay(Schedule):
    """``init / (1 + rate * t / decay_steps)`` (Keras ``InverseTimeDecay``).

    With ``staircase=True`` the ratio ``t / decay_steps`` is floored.

    Example:
        >>> from lrsched import inverse_time_decay
        >>> inverse_time_decay(init_value=1.0, decay_rate=1.0, decay_steps=10)(10)
        0.5
    """

    init_value: float
    decay_rate: float
    decay_steps: float = 1
    staircase: bool = False

    def _check(self) -> None:
        self._non_negative("init_value", "decay_rate")
        self._positive("decay_steps")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        ratio = periods(t, self.decay_steps, xp) if self.staircase else t / self.decay_steps
        return self.init_value / (1.0 + self.decay_rate * ratio)


_ = math  # used in doctests


@register("inverse_sqrt")
class InverseSqrt(Schedule):
    """Inverse square root decay with linear warmup (Transformer "Noam" schedule).

    ``init + (peak - init) * t / w`` for ``t < w``, then ``peak * sqrt(w / t)``
    with ``w = warmup_steps``. The Noam form ``d**-0.5 * min(t**-0.5, t * w**-1.5)``
    is ``peak_value = (d * w) ** -0.5``. The decay never ends (no end value).

    Example:
        >>> from lrsched import inverse_sqrt
        >>> inverse_sqrt(peak_value=1.0, warmup_steps=100)(400)
        0.5
    """

    peak_value: float
    warmup_steps: float
    init_value: float = 0.0

    def _check(self) -> None:
        self._non_negative("peak_value", "init_value")
        self._positive("warmup_steps")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        w = self.warmup_steps
        ramp = linear_between(self.init_value, self.peak_value, t / w)
        decay = self.peak_value * xp.sqrt(w / xp.maximum(t, w))
        return xp.where(t < w, ramp, decay)

    def landmarks(self, end: float) -> Iterator[Landmark]:
        yield (float(self.warmup_steps), "warmup", "warmup end")


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call.
exponential_decay = ExponentialDecay
natural_exp_decay = NaturalExpDecay
inverse_time_decay = InverseTimeDecay
inverse_sqrt = InverseSqrt
