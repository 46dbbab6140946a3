"""Step-wise and piecewise schedules: step decay, milestones, piecewise constant and linear.

Boundaries are global steps; values switch *at* a boundary (like torch ``MultiStepLR`` and Optax).
"""

from __future__ import annotations

import bisect
from typing import Any

from lrsched._core.backend import Array, Namespace
from lrsched._core.schedule import Schedule, register
from lrsched.schedules.curves import (
    geometric,
    periods,
)

__all__ = [
    "StepDecay",
    "MultiStepDecay",
    "PiecewiseConstant",
    "PiecewiseLinear",
    "step_decay",
    "multistep_decay",
    "piecewise_constant",
    "piecewise_linear",
]


@register("step_decay")
class StepDecay(Schedule):
    """Step decay: ``init * drop ** floor(t / step_size)`` (torch ``StepLR`` with ``gamma=drop``).

    Steps ``0 .. step_size-1`` give ``init_value``; the first drop happens at ``step_size``.

    Example:
        >>> from lrsched import step_decay
        >>> step_decay(init_value=1.0, step_size=10, drop=0.5)(25)
        0.25
    """

    init_value: float
    step_size: float
    drop: float

    def _check(self) -> None:
        self._non_negative("init_value")
        self._positive("step_size")
        if not 0 < self.drop <= 1:
            raise self._fail(f"drop must be in (0, 1], got {self.drop!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        return self.init_value * geometric(self.drop, periods(t, self.step_size, xp), xp)


@register("multistep_decay")
class MultiStepDecay(Schedule):
    """Drop by ``drop`` at each milestone: ``init * drop ** #{m in milestones : m <= t}``.

    As torch ``MultiStepLR``: the value at step ``milestones[i]`` is already dropped.

    Example:
        >>> from lrsched import multistep_decay
        >>> multistep_decay(init_value=1.0, milestones=(10, 20), drop=0.1)(15)
        0.1
    """

    init_value: float
    milestones: tuple[float, ...]
    drop: float

    def _check(self) -> None:
        self._non_negative("init_value")
        if not self.milestones:
            raise self._fail("milestones must not be empty")
        self._increasing("milestones", self.milestones, strictly_positive=True)
        if not 0 < self.drop <= 1:
            raise self._fail(f"drop must be in (0, 1], got {self.drop!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
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
        >>> from lrsched import piecewise_constant
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
        self._increasing("boundaries", self.boundaries, strictly_positive=True)
        for i, v in enumerate(self.values):
            if v < 0:
                raise self._fail(f"values[{i}] must be >= 0, got {v!r}")

    def _arrays(self) -> tuple[Any, Any]:
        import numpy as np

        return self._cached("arrays", lambda: (np.asarray(self.boundaries, float), np.asarray(self.values, float)))

    def _eval(self, t: Array, xp: Namespace) -> Array:
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
        >>> from lrsched import piecewise_linear
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
        self._increasing("points steps", steps, strictly_positive=False)
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

    def _eval(self, t: Array, xp: Namespace) -> Array:
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


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call.
step_decay = StepDecay
multistep_decay = MultiStepDecay
piecewise_constant = PiecewiseConstant
piecewise_linear = PiecewiseLinear
