"""Operations a controller's rule is written with, beyond the array namespace ``xp``.

* :func:`select`: field by field ``a if cond else b`` of two states;
* :func:`finite_or`: a value where finite, else a fallback (NaN/inf signals change nothing);
* :func:`apply`: ``fn(x)``, recorded as a call by the scalar compiler when ``x`` is symbolic.

Each is written once against ``xp``, so a rule using them runs on every backend and compiles into the closure.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from lrsched._core.backend import Array, Namespace

__all__ = ["apply", "finite_or", "select"]

S = TypeVar("S")


def select(cond: Array, a: S, b: S, xp: Namespace, vector_fields: frozenset[str] = frozenset()) -> S:
    """Field by field ``a if cond else b`` of two NamedTuple states; tuples and ``vector_fields`` as a whole."""
    if cond is True or cond is False:
        return a if cond else b
    first: Any = a
    return type(first)._make(  # type: ignore[no-any-return]
        xp.where_vector(cond, x, y) if (name in vector_fields or isinstance(y, tuple)) else xp.where(cond, x, y)
        for name, x, y in zip(first._fields, first, b)  # type: ignore[call-overload]
    )


def finite_or(value: Array, fallback: Array, xp: Namespace) -> tuple[Array, Array]:
    """``(value where finite else fallback, whether value is finite)``: NaN/inf signals change nothing."""
    finite = (value - value) == 0
    return xp.where(finite, value, fallback), finite


def apply(fn: Callable[[Any], Any], x: Any) -> Any:
    """``fn(x)``; the scalar compiler records it as a call when ``x`` is symbolic (e.g. a schedule of ``step``)."""
    hook = getattr(type(x), "lrsched_apply", None)
    return fn(x) if hook is None else hook(x, fn)
