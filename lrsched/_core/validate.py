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
    "optional_real_in",
    "per_group",
    "real_array",
    "choice",
    "MAX_COUNT",
    "MAX_GROUPS",
]

# Integers beyond this cannot be converted to a float.
MAX_INT = int(1.7976931348623157e308)
#: The largest count of updates a controller setting may hold: controllers keep their counters in int32 (JAX's
#: default integer), so a larger patience, window, budget or step could never be reached.
MAX_COUNT = 2**31 - 1
#: The most parameter groups (per-group values) a controller steers; each group is one leaf of its state.
MAX_GROUPS = 4096

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


def integer(owner: str, field: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """An integer (not a bool), optionally ``>= low`` and ``<= high``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{owner}: {field} must be an integer, got {shown(value)}")
    value = int(value)
    too_low, too_high = low is not None and value < low, high is not None and value > high
    if too_low or too_high:
        if high is None:
            raise ValueError(f"{owner}: {field} must be >= {low}, got {shown(value)}")
        raise ValueError(f"{owner}: {field} must be in [{'-inf' if low is None else low}, {high}], got {shown(value)}")
    return value


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


def optional_real_in(owner: str, field: str, value: Any, **bounds: Any) -> float | None:
    """``None``, or a real checked as :func:`real_in`."""
    return None if value is None else real_in(owner, field, value, **bounds)


def per_group(owner: str, field: str, value: Any, check: Any) -> Any:
    """``check(field, value)`` for a number, or a non-empty tuple of them (one per parameter group, at most
    :data:`MAX_GROUPS`), each checked as ``field[i]``."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{owner}: {field} must hold one value per parameter group, got an empty sequence")
        if len(value) > MAX_GROUPS:
            raise ValueError(
                f"{owner}: {field} holds {len(value)} per-group values, more than MAX_GROUPS = {MAX_GROUPS}"
            )
        return tuple(check(f"{field}[{i}]", v) for i, v in enumerate(value))
    return check(field, value)


def real_array(owner: str, field: str, value: Any, shape: tuple[int, ...]) -> Any:
    """``value`` (nested sequences or an array) as nested tuples of finite floats of exactly ``shape``."""
    if not shape:
        return float(number(owner, field, value))
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != shape[0]:
        got = f"length {len(value)}" if isinstance(value, (list, tuple)) else shown(value)
        raise ValueError(f"{owner}: {field} must have shape {shape}, got {got} at this level")
    return tuple(real_array(owner, f"{field}[{i}]", v, shape[1:]) for i, v in enumerate(value))


def choice(owner: str, field: str, value: Any, choices: tuple[str, ...]) -> str:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{owner}: {field} must be one of {', '.join(map(repr, choices))}, got {shown(value)}")
    return str(value)
