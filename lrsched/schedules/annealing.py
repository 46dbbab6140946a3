"""Annealing schedules: cosine decay, cosine with restarts (SGDR), warmup-stable-decay, REX."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from lrsched._core.backend import Array, Namespace
from lrsched._core.schedule import MAX_LANDMARKS, Landmark, Schedule, register
from lrsched._core.validate import is_number
from lrsched.schedules.curves import (
    anneal,
    clip01,
    geometric,
    linear_between,
    periods,
    progress,
    remaining,
    rex_between,
)

__all__ = [
    "CosineDecay",
    "CosineRestarts",
    "WarmupStableDecay",
    "Rex",
    "cosine_decay",
    "cosine_restarts",
    "wsd",
    "rex",
]


@register("cosine_decay")
class CosineDecay(Schedule):
    """Cosine annealing that holds its end value:

    ``end + (init - end) * ((1 + cos(pi * min(t, T) / T)) / 2) ** exponent``, ``T = decay_steps``.

    Step 0 gives ``init_value``, step ``T`` and later give ``end_value`` (unlike
    torch ``CosineAnnealingLR``, which oscillates back up past ``T_max``). Equals
    Optax ``cosine_decay_schedule`` with ``alpha = end_value / init_value``.

    Example:
        >>> from lrsched import cosine_decay
        >>> cosine_decay(init_value=1.0, decay_steps=100)(50)
        0.5
    """

    init_value: float
    decay_steps: float
    end_value: float = 0.0
    exponent: float = 1.0

    def _check(self) -> None:
        self._non_negative("init_value", "end_value")
        self._positive("decay_steps")
        self._positive("exponent")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        x = progress(t, self.decay_steps, xp)
        shape = 0.5 + 0.5 * xp.cos(math.pi * x)
        if not (is_number(self.exponent) and self.exponent == 1):  # an array in a stacked join
            shape = xp.power(shape, self.exponent)
        return self.end_value + (self.init_value - self.end_value) * shape


@register("cosine_restarts", structural={"period_mult": lambda m: m == 1})
class CosineRestarts(Schedule):
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Cycle ``i`` starts at ``T0 * (m**i - 1) / (m - 1)`` (``i * T0`` when
    ``m = period_mult = 1``), lasts ``T0 * m**i`` steps (``T0 = first_period``;
    ``m`` may be any real ``>= 1``) and anneals by cosine to ``end_value``.
    ``decay`` (per cycle, ``d**i``) acts according to ``decay_mode``:

    * ``"peak"`` (timm ``CosineLRScheduler``): the peak decays, the floor stays:
      ``end + (init * d**i - end) * c``;
    * ``"amplitude"`` (Keras ``CosineDecayRestarts`` ``m_mul``): the cosine term
      decays: ``end + (init - end) * d**i * c``;

    with ``c = (1 + cos(pi * local / period)) / 2``. Restarts happen at every
    cycle start, forever (use :func:`join` to stop them).

    Example:
        >>> from lrsched import cosine_restarts
        >>> cosine_restarts(init_value=1.0, first_period=10)(10)
        1.0
    """

    init_value: float
    first_period: float
    period_mult: float = 1.0
    decay: float = 1.0
    end_value: float = 0.0
    decay_mode: str = "peak"

    def _check(self) -> None:
        self._non_negative("init_value", "end_value")
        self._positive("first_period")
        if self.period_mult < 1:
            raise self._fail(f"period_mult must be >= 1, got {self.period_mult!r}")
        if not 0 < self.decay <= 1:
            raise self._fail(f"decay must be in (0, 1], got {self.decay!r}")
        if self.decay_mode not in ("peak", "amplitude"):
            raise self._fail(f"decay_mode must be 'peak' or 'amplitude', got {self.decay_mode!r}")

    def cycle_start(self, i: Array, xp: Namespace) -> Array:
        """Step at which cycle ``i`` starts: ``T0 * expm1(i * log(m)) / (m - 1)`` (``i * T0`` for ``m = 1``).

        ``log(m)`` and ``m - 1`` are taken in float64 and ``expm1`` avoids the cancellation of ``m**i - 1``,
        so in float32 a cycle start is off by a few units in the last place times ``1 + i * log(m)`` at most.
        """
        m, period = self.period_mult, self.first_period
        if _is_one(m):
            return i * period
        return period * (xp.expm1(i * _log(m, xp)) / (m - 1.0))

    def landmarks(self, end: float) -> Iterator[Landmark]:
        m = self.period_mult
        for i in range(1, MAX_LANDMARKS):
            # In float64 ``m**i`` is exact for small integral ``m``: the plotted start is the decimal one.
            start = float(i * self.first_period if m == 1 else self.first_period * ((m**i - 1.0) / (m - 1.0)))
            if start > end:
                return
            yield (start, "restart", f"restart {i}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        m, period = self.period_mult, self.first_period
        if _is_one(m):
            i = periods(t, period, xp)
        else:
            log_m = _log(m, xp)
            i = xp.floor(xp.log1p(t * ((m - 1.0) / period)) / log_m)
            # A step within the rounding error of a computed cycle start is that start (a restart) on every
            # backend: 43 starts cycle 1 of (T0=43, m=1.1) although 43 * 0.1 / 0.1 rounds to 43.00000000000001.
            i = i + xp.where(t >= self.cycle_start(i + 1.0, xp) * _snap(i + 1.0, log_m, t, xp), 1.0, 0.0)
            i = i - xp.where(t < self.cycle_start(i, xp) * _snap(i, log_m, t, xp), 1.0, 0.0)
        start = self.cycle_start(i, xp)
        length = period if _is_one(m) else period * xp.power(m, i)
        c = 0.5 + 0.5 * xp.cos(math.pi * clip01((t - start) / length, xp))
        factor = geometric(self.decay, i, xp)
        if self.decay_mode == "peak":
            return self.end_value + (self.init_value * factor - self.end_value) * c
        return self.end_value + (self.init_value - self.end_value) * factor * c


def _is_one(m: Any) -> bool:
    """``m == 1`` for a number; an array (stacked join, grouped by ``m == 1``) holds values ``!= 1``."""
    return is_number(m) and m == 1


def _log(x: Array, xp: Namespace) -> Array:
    """``log(x)``: in float64 for a number, on the array otherwise (a stacked join's settings)."""
    return math.log(x) if is_number(x) else xp.log(x)


def _snap(i: Array, log_m: Array, t: Array, xp: Namespace) -> Array:
    """``1 - tolerance``, the tolerance being the relative rounding error of a cycle start (16 ulps a unit)."""
    return 1.0 - 16.0 * xp.epsilon(t) * (1.0 + i * log_m)


@register("wsd")
class WarmupStableDecay(Schedule):
    """Warmup-stable-decay ("trapezoidal", Hägele et al. 2024).

    ``total_steps`` includes the warmup. Linear warmup ``init -> peak`` on
    ``[0, w]``, ``peak`` until ``D = total_steps - decay_steps``, then a decay
    ``peak -> end`` on ``[D, total_steps]`` of ``decay_shape`` ``"linear"``,
    ``"cosine"`` or ``"1-sqrt"`` (``1 - sqrt(x)``); ``end_value`` holds after.
    ``warmup_steps=0`` starts at ``peak_value``.

    Example:
        >>> from lrsched import wsd
        >>> wsd(peak_value=1.0, total_steps=100, warmup_steps=10, decay_steps=20)(50)
        1.0
    """

    peak_value: float
    total_steps: float
    decay_steps: float
    warmup_steps: float = 0
    init_value: float = 0.0
    end_value: float = 0.0
    decay_shape: str = "1-sqrt"

    def _check(self) -> None:
        self._non_negative("peak_value", "init_value", "end_value", "warmup_steps")
        self._positive("total_steps")
        self._positive("decay_steps")
        if self.warmup_steps + self.decay_steps > self.total_steps:
            raise self._fail(
                f"warmup_steps + decay_steps must be <= total_steps = {self.total_steps!r}, "
                f"got {self.warmup_steps!r} + {self.decay_steps!r}"
            )
        if self.decay_shape not in ("linear", "cosine", "1-sqrt"):
            raise self._fail(f"decay_shape must be 'linear', 'cosine' or '1-sqrt', got {self.decay_shape!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        w = self.warmup_steps
        ramp = linear_between(self.init_value, self.peak_value, progress(t, w, xp))
        start = self.total_steps - self.decay_steps
        x = clip01((t - start) / self.decay_steps, xp)
        body = anneal(self.decay_shape, self.peak_value, self.end_value, x, xp)
        return xp.where(t < w, ramp, body)

    def landmarks(self, end: float) -> Iterator[Landmark]:
        if self.warmup_steps > 0:
            yield (float(self.warmup_steps), "warmup", "warmup end")
        yield (float(self.total_steps - self.decay_steps), "phase", "decay")


@register("rex")
class Rex(Schedule):
    """REX decay (Chen et al. 2021): ``end + (init - end) * (1 - z) / (1/2 + (1 - z)/2)``, ``z = min(t, T)/T``.

    Step 0 gives ``init_value``, ``total_steps`` and later give ``end_value``.

    Example:
        >>> from lrsched import rex
        >>> round(rex(init_value=1.0, total_steps=100)(50), 12)
        0.666666666667
    """

    init_value: float
    total_steps: float
    end_value: float = 0.0

    def _check(self) -> None:
        self._non_negative("init_value", "end_value")
        self._positive("total_steps")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        return rex_between(self.init_value, self.end_value, remaining(t, self.total_steps, xp))


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call.
cosine_decay = CosineDecay
cosine_restarts = CosineRestarts
wsd = WarmupStableDecay
rex = Rex
