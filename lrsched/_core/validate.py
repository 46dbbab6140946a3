"""Validation of settings, written once for schedules, controllers and adapters.

Every check raises at construction with one message style: ``owner: field must be <range>, got <value>``.
Values shown in messages are cut to about 200 characters, so a huge input never yields a huge message.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

__all__ = [
    "MAX_INT",
    "is_number",
    "number",
    "integer",
    "flag",
    "sequence",
    "shown",
    "positive",
    "non_negative",
    "increasing",
    "real_in",
    "choice",
]

# Integers beyond this cannot be converted to a float.
MAX_INT = int(1.7976931348623157e308)

_SHOWN = 200


def shown(value: Any) -> str:
    """``repr(value)``, cut to about 200 characters (the whole input is never echoed)."""
    try:
        text = repr(value)
    except RecursionError:
        return f"<deeply nested {type(value).__name__}>"
    return text if len(text) <= _SHOWN else text[:_SHOWN] + f"... ({len(text)} characters)"


def is_number(value: Any) -> bool:
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def number(owner: str, field: str, value: Any) -> int | float:
    """A finite real number; integers within int32 stay ``int``, everything else becomes ``float``.

    Integers of ``2**31`` or more become floats (exact up to ``2**53``): JAX in its default 32-bit mode cannot
    hold them as integers, so every backend gets the same float.
    """
    if not is_number(value):
        raise TypeError(f"{owner}: {field} must be a real number, got {shown(value)}")
    if isinstance(value, numbers.Integral):
        value = int(value)
        if abs(value) > MAX_INT:
            raise ValueError(f"{owner}: {field} must be at most {MAX_INT:.3g} in magnitude, got {str(value)[:20]}...")
        if abs(value) >= 2**31:
            value = float(value)
    else:
        value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {field} must be finite, got {value!r}")
    return value


def integer(owner: str, field: str, value: Any, low: int | None = None) -> int:
    """An integer (not a bool), optionally ``>= low``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{owner}: {field} must be an integer, got {shown(value)}")
    if low is not None and value < low:
        raise ValueError(f"{owner}: {field} must be >= {low}, got {value!r}")
    return int(value)


def flag(owner: str, field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {field} must be True or False, got {shown(value)}")
    return value


def sequence(owner: str, field: str, value: Any) -> tuple[Any, ...]:
    """``value`` as a tuple; strings, bytes, dicts and non-iterables are refused."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{owner}: {field} must be a sequence, got {shown(value)}")
    return tuple(value)


def positive(owner: str, field: str, value: Any) -> None:
    if not value > 0:
        raise ValueError(f"{owner}: {field} must be > 0, got {value!r}")


def non_negative(owner: str, field: str, value: Any) -> None:
    if value is not None and value < 0:
        raise ValueError(f"{owner}: {field} must be >= 0, got {value!r}")


def increasing(owner: str, field: str, values: tuple[float, ...], strictly_positive: bool) -> None:
    for i, v in enumerate(values):
        if strictly_positive and v <= 0:
            raise ValueError(f"{owner}: {field}[{i}] must be > 0, got {v!r}")
        if i and v <= values[i - 1]:
            raise ValueError(f"{owner}: {field} must be strictly increasing, got {shown(values)}")


def real_in(
    owner: str,
    field: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real (as ``float``) in the range given by ``low``/``high``; the message states the range."""
    value = float(number(owner, field, value))
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        left = "(-inf" if low is None else ("(" if low_open else "[") + repr(low)
        right = "inf)" if high is None else repr(high) + (")" if high_open else "]")
        raise ValueError(f"{owner}: {field} must be in {left}, {right}, got {value!r}")
    return value


def choice(owner: str, field: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{owner}: {field} must be one of {', '.join(map(repr, choices))}, got {shown(value)}")
    return str(value)
