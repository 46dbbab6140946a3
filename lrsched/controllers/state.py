"""A controller's state as data: cast to a backend's arrays, converted to Python numbers and to strict JSON.

A state is a NamedTuple whose leaves are numbers (Python numbers from ``initial_state``), per-group tuples of
numbers, or one fixed-length vector (a field named in the controller's ``vector_fields``, e.g. a ring buffer).
**One rule tells counters from values**: a leaf that is a Python ``int`` in the initial state is a counter (int32 in
every array backend), any other leaf is a value (the floating dtype of ``like``). Everything that converts a state
(``Controller.cast``, the stateful closure, the adapters, the torch device path) uses the functions here.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, TypeVar

from lrsched._core.backend import PYTHON, namespace_for

__all__ = ["cast_state", "integer_fields", "plain", "state_from_json", "state_to_json"]

S = TypeVar("S")

_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def integer_fields(template: NamedTuple) -> frozenset[str]:
    """The counters of a state shaped like ``template`` (an initial state in Python numbers): its ``int`` leaves."""
    return frozenset(
        name
        for name, value in zip(template._fields, template)
        if type(value) is int or (isinstance(value, tuple) and value and all(type(v) is int for v in value))
    )


def cast_state(state: S, like: Any, vector_fields: frozenset[str] = frozenset(), owner: str = "init") -> S:
    """``state`` (Python numbers, maybe with scalar arrays) as arrays of ``like``'s backend, dtype and device.

    Values take ``like``'s floating dtype, counters (``int`` leaves) int32, as ``lax.scan`` carries and ``vmap``
    batches need; per-group tuples stay tuples of scalars; a field in ``vector_fields`` becomes one vector.
    """
    xp = namespace_for(like) if hasattr(like, "dtype") else PYTHON
    if xp.is_scalar:
        raise TypeError(f"{owner}: like must be a NumPy, JAX or torch array, got {type(like).__name__}")
    dtype = like.dtype
    if not getattr(dtype, "is_floating_point", getattr(dtype, "kind", "") == "f") and "float" not in str(dtype):
        raise TypeError(f"{owner}: like must have a floating dtype, got {dtype}")

    def leaf(name: str, value: Any) -> Any:
        if isinstance(value, tuple):
            if name in vector_fields and value:
                return xp.asarray(value, like, False)
            return tuple(leaf(name, v) for v in value)
        return xp.asarray(value, like, type(value) is int)

    st: Any = state
    return type(st)._make(leaf(n, v) for n, v in zip(st._fields, st))  # type: ignore[no-any-return]


def plain(value: Any, integer: bool) -> Any:
    """A state leaf as Python numbers (``int`` for counters), from numbers, tuples or arrays of any backend."""
    if isinstance(value, (tuple, list)):
        return tuple(plain(v, integer) for v in value)
    if getattr(value, "ndim", 0) >= 1:
        return tuple(plain(v, integer) for v in value.tolist())
    return int(value) if integer else float(value)


def state_to_json(value: Any) -> Any:
    """A leaf of Python numbers as strict JSON: tuples as lists, non-finite floats as ``"inf"``/``"-inf"``/``"nan"``."""
    if isinstance(value, tuple):
        return [state_to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    return value


def state_from_json(value: Any) -> Any:
    """The inverse of :func:`state_to_json`."""
    if isinstance(value, list):
        return tuple(state_from_json(v) for v in value)
    if isinstance(value, str) and value in _NONFINITE:
        return _NONFINITE[value]
    return value
