"""Schedule arithmetic: ``+``, ``*`` (and ``-``, ``/``), elementwise ``minimum``/``maximum``, ``scale``.

Each combinator is n-ary and flat: ``a + b + c`` is one ``sum`` of three terms, not a sum of a sum, so a sum of
thousands of schedules nests one level deep (its hash, repr, pickle and config never recurse per term), and the
numbers among the operands fold into one ``constant`` (``a + 1 + 2`` is ``a + 3.0``). ``a - b`` is
``a + (b * -1.0)`` and ``a / 2`` is ``a * 0.5``. The terms are evaluated left to right, then the constant applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from lrsched._core.backend import Array, Namespace
from lrsched._core.config import check_keys
from lrsched._core.schedule import MAX_NODES, Schedule, as_schedule, register
from lrsched._core.validate import is_number, shown

__all__ = [
    "Sum",
    "Product",
    "Minimum",
    "Maximum",
    "scale",
    "minimum",
    "maximum",
]


class _Nary(Schedule):
    """``terms[0] op terms[1] op ... op constant`` for one associative, commutative ``op``.

    ``constant`` is the operation's identity (``0.0`` for sums, ``1.0`` for products, ``None`` for minimum and
    maximum) when no number took part. Nested combinators of the same kind are flattened at construction.
    """

    terms: tuple[Schedule, ...]
    constant: float | None
    _identity: ClassVar[float | None] = None

    @staticmethod
    def _fold(a: float, b: float) -> float:
        raise NotImplementedError

    def _apply(self, a: Array, b: Array, xp: Namespace) -> Array:
        raise NotImplementedError

    @classmethod
    def of(cls, *operands: Any) -> Schedule:
        """The flat combination of ``operands`` (schedules, callables or numbers; at least one schedule)."""
        terms: list[Any] = []
        constant = cls._identity
        for operand in operands:
            if is_number(operand):
                constant = float(operand) if constant is None else cls._fold(constant, float(operand))
            else:
                terms.append(operand)
        if not terms:
            raise TypeError(f"{cls.name}: give at least one schedule, got only numbers {shown(operands)}")
        return cls(tuple(terms), constant)  # type: ignore[call-arg]

    def _check(self) -> None:
        if not self.terms:
            raise self._fail("terms must hold at least one schedule")
        if not any(type(t) is type(self) for t in self.terms):
            return
        # Flatten: count first, so that ``p = p * p`` repeated cannot build a tuple of 2**k terms before refusing.
        count = sum(t._config_shape()[1] for t in self.terms)
        if count > MAX_NODES:
            raise self._fail(f"its config would hold {count} values, more than MAX_NODES = {MAX_NODES}")
        terms: list[Schedule] = []
        constant = self.constant
        for t in self.terms:
            if type(t) is type(self):
                terms.extend(t.terms)  # type: ignore[attr-defined]
                inner = t.constant  # type: ignore[attr-defined]
                if inner is not None and inner != self._identity:
                    constant = inner if constant is None else self._fold(constant, inner)
            else:
                terms.append(t)
        object.__setattr__(self, "terms", tuple(terms))
        object.__setattr__(self, "constant", constant)

    def _eval(self, t: Array, xp: Namespace) -> Array:
        terms = self.terms
        out = terms[0]._eval(t, xp)
        for term in terms[1:]:
            out = self._apply(out, term._eval(t, xp), xp)
        c = self.constant
        if c is None or (type(c) is float and c == self._identity):  # a stacked column (an array) is applied
            return out
        return self._apply(out, c, xp)

    def _operands(self) -> list[str]:
        parts = [repr(t) for t in self.terms]
        if self.constant is not None and (self.constant != self._identity or len(self.terms) == 1):
            parts.append(repr(self.constant))
        return parts

    def to_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "terms": [t.to_config() for t in self.terms]}
        if self.constant is not None and self.constant != self._identity:
            config["constant"] = self.constant
        return config

    @classmethod
    def _upgrade_config(cls, config: dict[str, Any], where: str) -> dict[str, Any]:
        """Version 0.1 wrote ``{"name": ..., "left": schedule, "right": schedule or number}``."""
        if "terms" in config or not ("left" in config or "right" in config):
            return config
        check_keys(where, cls.name, config, ("left", "right"), required=("left", "right"))
        right = config["right"]
        if isinstance(right, dict):
            return {"name": cls.name, "terms": [config["left"], right]}
        if not is_number(right):
            raise TypeError(f"{where}.right: expected a schedule config or a real number, got {shown(right)}")
        return {"name": cls.name, "terms": [config["left"]], "constant": right}

    def phase_at(self, step: float) -> str | None:  # as ``clip`` and ``shift``: the first term's phase
        return self.terms[0].phase_at(step)


class _Infix(_Nary):
    _symbol: ClassVar[str] = "?"

    def __repr__(self) -> str:
        return "(" + f" {self._symbol} ".join(self._operands()) + ")"


@register("sum")
class Sum(_Infix):
    """``terms[0](t) + terms[1](t) + ... + constant``; written ``a + b + c``.

    Example:
        >>> from lrsched import constant, linear
        >>> linear(0.0, 1.0, 10) + constant(0.5) + 1
        (linear(init_value=0.0, end_value=1.0, transition_steps=10) + constant(value=0.5) + 1.0)
    """

    terms: tuple[Schedule, ...]
    constant: float = 0.0
    _identity = 0.0
    _symbol = "+"

    @staticmethod
    def _fold(a: float, b: float) -> float:
        return a + b

    def _apply(self, a: Array, b: Array, xp: Namespace) -> Array:
        return a + b


@register("product")
class Product(_Infix):
    """``terms[0](t) * terms[1](t) * ... * constant``; written ``a * b * 0.5`` (and ``-a``, ``a / 2``)."""

    terms: tuple[Schedule, ...]
    constant: float = 1.0
    _identity = 1.0
    _symbol = "*"

    @staticmethod
    def _fold(a: float, b: float) -> float:
        return a * b

    def _apply(self, a: Array, b: Array, xp: Namespace) -> Array:
        return a * b


class _Call(_Nary):
    _function: ClassVar[Callable[..., Any]]

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(self._operands())})"


@register("minimum")
class Minimum(_Call):
    """Elementwise ``min(terms[0](t), terms[1](t), ..., constant)``; written ``minimum(a, b, 0.3)``.

    Example:
        >>> from lrsched import linear, minimum
        >>> minimum(linear(0.0, 1.0, 10), 0.3)(5)
        0.3
    """

    terms: tuple[Schedule, ...]
    constant: float | None = None

    @staticmethod
    def _fold(a: float, b: float) -> float:
        return min(a, b)

    def _apply(self, a: Array, b: Array, xp: Namespace) -> Array:
        return xp.minimum(a, b)


@register("maximum")
class Maximum(_Call):
    """Elementwise ``max(terms[0](t), terms[1](t), ..., constant)``; written ``maximum(a, b, 0.3)``.

    Example:
        >>> from lrsched import linear, maximum
        >>> maximum(linear(1.0, 0.0, 10), 0.3)(10)
        0.3
    """

    terms: tuple[Schedule, ...]
    constant: float | None = None

    @staticmethod
    def _fold(a: float, b: float) -> float:
        return max(a, b)

    def _apply(self, a: Array, b: Array, xp: Namespace) -> Array:
        return xp.maximum(a, b)


def scale(schedule: Any, factor: float) -> Schedule:
    """``schedule(t) * factor`` (the same as ``schedule * factor``)."""
    return Product.of(as_schedule(schedule, owner="scale"), factor)


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call;
# ``minimum(a, b, 0.3)`` flattens and folds as ``+`` does.
minimum = Minimum.of
maximum = Maximum.of
