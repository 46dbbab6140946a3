"""Schedule arithmetic: ``+``, ``*`` (and ``-``, ``/``), elementwise ``minimum``/``maximum``, ``scale``."""

from __future__ import annotations

from typing import Any

from lrsched._core.backend import Namespace
from lrsched._core.schedule import Schedule, register, value_of

__all__ = [
    "Sum",
    "Product",
    "Minimum",
    "Maximum",
    "scale",
    "minimum",
    "maximum",
]


class _Binary(Schedule):
    left: Schedule
    right: Schedule | float
    _symbol = "?"

    def __repr__(self) -> str:
        return f"({self.left!r} {self._symbol} {self.right!r})"

    def phase_at(self, step: float) -> str | None:
        return self.left.phase_at(step)


@register("sum")
class Sum(_Binary):
    """``left(t) + right(t)`` (``right`` may be a number); written ``a + b``."""

    left: Schedule
    right: Schedule | float
    _symbol = "+"

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self.left._eval(t, xp) + value_of(self.right, t, xp)


@register("product")
class Product(_Binary):
    """``left(t) * right(t)`` (``right`` may be a number); written ``a * b``."""

    left: Schedule
    right: Schedule | float
    _symbol = "*"

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return self.left._eval(t, xp) * value_of(self.right, t, xp)


@register("minimum")
class Minimum(Schedule):  # Minimum and Maximum differ only in the operation: six alike lines, kept apart for repr
    """Elementwise ``min(left(t), right(t))``.

    Example:
        >>> minimum(linear(0.0, 1.0, 10), 0.3)(5)
        0.3
    """

    left: Schedule
    right: Schedule | float

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.minimum(self.left._eval(t, xp), value_of(self.right, t, xp))

    def phase_at(self, step: float) -> str | None:  # as ``*``, ``clip`` and ``shift``: the left operand's phase
        return self.left.phase_at(step)


@register("maximum")
class Maximum(Schedule):
    """Elementwise ``max(left(t), right(t))``.

    Example:
        >>> maximum(linear(1.0, 0.0, 10), 0.3)(10)
        0.3
    """

    left: Schedule
    right: Schedule | float

    def _eval(self, t: Any, xp: Namespace) -> Any:
        return xp.maximum(self.left._eval(t, xp), value_of(self.right, t, xp))

    def phase_at(self, step: float) -> str | None:
        return self.left.phase_at(step)


def scale(schedule: Any, factor: float) -> Schedule:
    """``schedule(t) * factor`` (the same as ``schedule * factor``)."""
    return Product(schedule, factor)


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call.
minimum = Minimum
maximum = Maximum
