"""Primitive schedules: constant, linear, polynomial, step and piecewise decays.

``step`` (written ``t``) counts optimizer updates from 0; fractional steps are
allowed. Every decay holds its end value after its last step (no oscillation,
no rise).
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from lrsched._backend import Namespace
from lrsched._base import Schedule, register
from lrsched._curves import geometric, linear_between, periods, progress, remaining

__all__ = [
    "Constant",
    "Linear",
    "Polynomial",
    "StepDecay",
    "MultiStepDecay",
    "PiecewiseConstant",
    "PiecewiseLinear",
    "ExponentialDecay",
    "NaturalExpDecay",
    "InverseTimeDecay",
]


def _positive(sched: Schedule, field: str) -> None:
    value = getattr(sched, field)
    if not value > 0:
        raise sched._fail(f"{field} must be > 0, got {value!r}")


def _non_negative(sched: Schedule, *fields: str) -> None:
    for field in fields:
        value = getattr(sched, field)
        if value is not None and value < 0:
            raise sched._fail(f"{field} must be >= 0, got {value!r}")


def _increasing(sched: Schedule, field: str, values: tuple[float, ...], strictly_positive: bool) -> None:
    for i, v in enumerate(values):
        if strictly_positive and v <= 0:
            raise sched._fail(f"{field}[{i}] must be > 0, got {v!r}")
        if i and v <= values[i - 1]:
            raise sched._fail(f"{field} must be strictly increasing, got {values!r}")


@register("constant")
class Constant(Schedule):
    """``value`` at every step.

    ``value`` may be any finite number, negative included: constants also
    serve as offsets in schedule arithmetic (``schedule - constant(0.1)``).

    Example:
        >>> constant(0.1)(1000)
        0.1
    """

    value: float

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.full_like(t, self.value)


@register("linear")
class Linear(Schedule):
    """Linear ramp, then hold: ``init + (end - init) * min(t, T) / T`` with ``T = transition_steps``.

    Step 0 gives ``init_value``, step ``T`` and later give ``end_value``.

    Example:
        >>> linear(init_value=1.0, end_value=0.0, transition_steps=10)(5)
        0.5
    """

    init_value: float
    end_value: float
    transition_steps: float

    def _check(self) -> None:
        _non_negative(self, "init_value", "end_value")
        _positive(self, "transition_steps")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return linear_between(self.init_value, self.end_value, progress(t, self.transition_steps, xp))


@register("polynomial")
class Polynomial(Schedule):
    """Polynomial decay: ``end + (init - end) * (1 - min(t, T) / T) ** power``, ``T = transition_steps``.

    Step 0 gives ``init_value``; step ``T`` and later give ``end_value``.
    ``power=1`` is linear decay (Keras ``PolynomialDecay``, Optax
    ``polynomial_schedule``; torch ``PolynomialLR`` is ``end_value=0``).

    Example:
        >>> polynomial(init_value=1.0, end_value=0.0, transition_steps=10, power=2.0)(5)
        0.25
    """

    init_value: float
    end_value: float
    transition_steps: float
    power: float = 1.0

    def _check(self) -> None:
        _non_negative(self, "init_value", "end_value")
        _positive(self, "transition_steps")
        _positive(self, "power")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        left = remaining(t, self.transition_steps, xp)
        return self.end_value + (self.init_value - self.end_value) * xp.power(left, self.power)


@register("step_decay")
class StepDecay(Schedule):
    """Step decay: ``init * drop ** floor(t / step_size)`` (torch ``StepLR`` with ``gamma=drop``).

    Steps ``0 .. step_size-1`` give ``init_value``; the first drop happens at ``step_size``.

    Example:
        >>> step_decay(init_value=1.0, step_size=10, drop=0.5)(25)
        0.25
    """

    init_value: float
    step_size: float
    drop: float

    def _check(self) -> None:
        _non_negative(self, "init_value")
        _positive(self, "step_size")
        if not 0 < self.drop <= 1:
            raise self._fail(f"drop must be in (0, 1], got {self.drop!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self.init_value * geometric(self.drop, periods(t, self.step_size, xp), xp)


@register("multistep_decay")
class MultiStepDecay(Schedule):
    """Drop by ``drop`` at each milestone: ``init * drop ** #{m in milestones : m <= t}``.

    As torch ``MultiStepLR``: the value at step ``milestones[i]`` is already dropped.

    Example:
        >>> multistep_decay(init_value=1.0, milestones=(10, 20), drop=0.1)(15)
        0.1
    """

    init_value: float
    milestones: tuple[float, ...]
    drop: float

    def _check(self) -> None:
        _non_negative(self, "init_value")
        if not self.milestones:
            raise self._fail("milestones must not be empty")
        _increasing(self, "milestones", self.milestones, strictly_positive=True)
        if not 0 < self.drop <= 1:
            raise self._fail(f"drop must be in (0, 1], got {self.drop!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        count = xp.searchsorted(self.milestones, t)
        # ``+ 0.0 * t`` gives the count the step's float dtype (torch: ``int * 1.0`` is float32).
        return self.init_value * geometric(self.drop, count + 0.0 * t, xp)


@register("piecewise_constant")
class PiecewiseConstant(Schedule):
    """``values[i]`` on ``boundaries[i-1] <= t < boundaries[i]``.

    ``len(values) == len(boundaries) + 1``. The value switches *at* a boundary
    (torch ``MultiStepLR`` convention; Keras ``PiecewiseConstantDecay``
    switches one step later, at ``t > boundary``). Evaluation is a binary
    search: its cost and its jitted graph do not grow with the number of pieces.

    Example:
        >>> piecewise_constant(boundaries=(10, 20), values=(1.0, 0.5, 0.1))(10)
        0.5
    """

    boundaries: tuple[float, ...]
    values: tuple[float, ...]

    def _check(self) -> None:
        if len(self.values) != len(self.boundaries) + 1:
            raise self._fail(
                f"values must have len(boundaries) + 1 = {len(self.boundaries) + 1} entries, got {len(self.values)}"
            )
        _increasing(self, "boundaries", self.boundaries, strictly_positive=True)
        for i, v in enumerate(self.values):
            if v < 0:
                raise self._fail(f"values[{i}] must be >= 0, got {v!r}")

    def _arrays(self) -> tuple[Any, Any]:
        import numpy as np

        return self._cached("arrays", lambda: (np.asarray(self.boundaries, float), np.asarray(self.values, float)))

    def _eval(self, t: Any, xp: Namespace) -> Any:
        if xp.is_scalar:
            return xp.take(self.values, xp.searchsorted(self.boundaries, t))
        boundaries, values = self._arrays()
        return xp.take(values, xp.searchsorted(boundaries, t))


@register("piecewise_linear")
class PiecewiseLinear(Schedule):
    """Linear interpolation through ``points = ((step, value), ...)``; holds the end values outside.

    Steps must be strictly increasing. Before the first point the first value
    holds, after the last point the last value holds. Cost and jitted graph do
    not grow with the number of points.

    Example:
        >>> piecewise_linear(points=((0, 0.0), (10, 1.0), (110, 0.0)))(60)
        0.5
    """

    points: tuple[tuple[float, float], ...]

    def _check(self) -> None:
        if not self.points:
            raise self._fail("points must not be empty")
        steps = tuple(p[0] for p in self.points)
        if steps[0] < 0:
            raise self._fail(f"points[0] step must be >= 0, got {steps[0]!r}")
        _increasing(self, "points steps", steps, strictly_positive=False)
        for i, (_, v) in enumerate(self.points):
            if v < 0:
                raise self._fail(f"points[{i}] value must be >= 0, got {v!r}")

    def _arrays(self) -> tuple[Any, Any]:
        import numpy as np

        def build() -> tuple[Any, Any]:
            pts = np.asarray(self.points, dtype=float)
            return pts[:, 0].copy(), pts[:, 1].copy()

        return self._cached("arrays", build)

    def _interpolate_scalar(self, t: float) -> float:
        steps = self._cached("steps", lambda: tuple(p[0] for p in self.points))
        i = min(max(bisect.bisect_right(steps, t), 1), len(steps) - 1)
        (x0, y0), (x1, y1) = self.points[i - 1], self.points[i]
        return y0 + (y1 - y0) * min(max((t - x0) / (x1 - x0), 0.0), 1.0)

    def _eval(self, t: Any, xp: Namespace) -> Any:
        n = len(self.points)
        if n == 1:
            return xp.full_like(t, self.points[0][1])
        if xp.is_scalar:
            return xp.call(self._interpolate_scalar, t)
        steps, values = self._arrays()
        i = xp.minimum(xp.maximum(xp.searchsorted(steps, t), 1), n - 1)
        x0, x1 = xp.take(steps, i - 1), xp.take(steps, i)
        y0, y1 = xp.take(values, i - 1), xp.take(values, i)
        frac = xp.minimum(xp.maximum((t - x0) / (x1 - x0), 0.0), 1.0)
        return y0 + (y1 - y0) * frac


@register("exponential_decay")
class ExponentialDecay(Schedule):
    """Rate-per-period decay: ``init * rate ** (t / period)``, ``period = transition_steps``.

    With ``staircase=True`` the exponent is ``floor(t / period)``. ``end_value``
    bounds the curve (a floor when ``rate < 1``, a ceiling when ``rate > 1``).
    Matches Optax ``exponential_decay`` and Keras ``ExponentialDecay``; torch
    ``ExponentialLR(gamma)`` is ``transition_steps=1``.

    Example:
        >>> exponential_decay(init_value=1.0, decay_rate=0.5, transition_steps=10)(20)
        0.25
    """

    init_value: float
    decay_rate: float
    transition_steps: float = 1
    staircase: bool = False
    end_value: float | None = None

    def _check(self) -> None:
        _non_negative(self, "init_value", "end_value")
        _positive(self, "decay_rate")
        _positive(self, "transition_steps")
        end = self.end_value
        if end is not None:
            if self.decay_rate < 1 and end > self.init_value:
                raise self._fail(f"end_value must be <= init_value when decaying, got {end!r}")
            if self.decay_rate > 1 and end < self.init_value:
                raise self._fail(f"end_value must be >= init_value when growing, got {end!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        if self.staircase:
            exponent = periods(t, self.transition_steps, xp)
        else:
            exponent = t / self.transition_steps
        value = self.init_value * xp.exp(exponent * math.log(self.decay_rate))  # decay_rate is static: log in float64
        if self.end_value is not None:
            bounded = xp.maximum if self.decay_rate < 1 else xp.minimum
            value = bounded(value, self.end_value)
        return value

    _static = ("decay_rate",)


@register("natural_exp_decay")
class NaturalExpDecay(Schedule):
    """Continuous exponential decay: ``max(init * exp(-k * t), end_value)`` with ``k = decay_constant``.

    Example:
        >>> round(natural_exp_decay(init_value=1.0, decay_constant=math.log(2))(1), 12)
        0.5
    """

    init_value: float
    decay_constant: float
    end_value: float = 0.0

    def _check(self) -> None:
        _non_negative(self, "init_value", "decay_constant", "end_value")
        if self.end_value > self.init_value:
            raise self._fail(f"end_value must be <= init_value, got {self.end_value!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.maximum(self.init_value * xp.exp(-self.decay_constant * t), self.end_value)


@register("inverse_time_decay")
class InverseTimeDecay(Schedule):
    """``init / (1 + rate * t / decay_steps)`` (Keras ``InverseTimeDecay``).

    With ``staircase=True`` the ratio ``t / decay_steps`` is floored.

    Example:
        >>> inverse_time_decay(init_value=1.0, decay_rate=1.0, decay_steps=10)(10)
        0.5
    """

    init_value: float
    decay_rate: float
    decay_steps: float = 1
    staircase: bool = False

    def _check(self) -> None:
        _non_negative(self, "init_value", "decay_rate")
        _positive(self, "decay_steps")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        ratio = periods(t, self.decay_steps, xp) if self.staircase else t / self.decay_steps
        return self.init_value / (1.0 + self.decay_rate * ratio)


_ = math  # used in doctests
