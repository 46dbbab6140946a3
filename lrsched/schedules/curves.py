"""The few curve pieces the schedules share, written once against ``xp``."""

from __future__ import annotations

import math
from typing import Any

from lrsched._core.backend import Array, Namespace

_TINY = 1e-30


def clip01(x: Array, xp: Namespace) -> Array:
    """``x`` limited to ``[0, 1]``."""
    return xp.minimum(xp.maximum(x, 0.0), 1.0)


def progress(t: Array, length: Array, xp: Namespace) -> Array:
    """Fraction ``min(t / length, 1)`` of a phase; ``length > 0`` (or a guarded 0).

    The result never exceeds 1, even where a compiler turns ``/ length`` into
    ``* (1 / length)`` (XLA does: ``7 * (1 / 7) > 1`` in float32).
    """
    return xp.minimum(t / xp.maximum(length, _TINY), 1.0)


def remaining(t: Array, length: Array, xp: Namespace) -> Array:
    """Fraction ``max(length - t, 0) / length`` of a phase still to go; ``length > 0``.

    Exactly 0 at and after the end on every backend (``1 - t / length`` is not
    under ``jit``), so ``remaining ** power`` with ``power < 1`` lands on the end value.
    """
    return xp.maximum(length - t, 0.0) / length


def periods(t: Array, period: Array, xp: Namespace) -> Array:
    """Complete periods in ``t``: the ``k`` with ``k * period <= t < (k + 1) * period``.

    ``floor(t / period)`` alone is not enough under ``jax.jit``: XLA computes
    ``t / period`` as ``t * (1 / period)``, which can land just below an integer
    at an exact multiple (``49 * (1 / 49) < 1``), so a step decay would drop
    one step late. The two corrections make every backend count the same.
    """
    k = xp.floor(t / period)
    k = k + xp.where(t >= (k + 1.0) * period, 1.0, 0.0)
    return k - xp.where(t < k * period, 1.0, 0.0)


def geometric(base: Array, exponent: Array, xp: Namespace) -> Array:
    """``base ** exponent`` for ``base > 0``.

    On arrays this is ``exp(exponent * log(base))`` with ``log(base)`` taken in
    float64 when ``base`` is a number: float32 would first round the base
    (``0.99999`` becomes ``0.99998999``, so ``log`` is 0.14 % off).
    """
    if xp.is_scalar:
        return xp.power(base, exponent)
    log_base = math.log(base) if isinstance(base, (int, float)) else xp.log(base)
    return xp.exp(exponent * log_base)


def linear_between(start: Any, end: Any, x: Any) -> Any:
    """``start + (end - start) * x`` for ``x`` in ``[0, 1]``."""
    return start + (end - start) * x


def cosine_between(start: Array, end: Array, x: Array, xp: Namespace) -> Array:
    """``end + (start - end) * (1 + cos(pi * x)) / 2``: from ``start`` at 0 to ``end`` at 1."""
    return end + (start - end) * (0.5 + 0.5 * xp.cos(math.pi * x))


def rex_between(start: Array, end: Array, left: Array) -> Array:
    """REX (Chen et al. 2022): ``end + (start - end) * left / (1/2 + left / 2)``, ``left`` the fraction of the
    phase still to go (1 at its start, 0 at its end)."""
    return end + (start - end) * left / (0.5 + 0.5 * left)


def anneal(kind: str, start: Array, end: Array, x: Array, xp: Namespace) -> Array:
    """Go from ``start`` (x=0) to ``end`` (x=1) along ``kind``: linear, cosine or 1-sqrt."""
    if kind == "linear":
        return linear_between(start, end, x)
    if kind == "cosine":
        return cosine_between(start, end, x, xp)
    if kind == "1-sqrt":
        return end + (start - end) * (1.0 - xp.sqrt(x))
    raise AssertionError(kind)
