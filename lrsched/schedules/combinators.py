"""Combinators: build schedules from schedules (warmup, cycle, shift, clip, quantize, perturb).

Each takes a schedule (or a number, or a plain callable) and returns a new
schedule value. The same algebra schedules anything that moves with the step:
momentum, weight decay, a data-mixture weight.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from lrsched._core.backend import PYTHON, Array, Namespace
from lrsched._core.schedule import MAX_LANDMARKS, Landmark, Schedule, landmarks_of, register
from lrsched._core.validate import is_number
from lrsched.schedules.curves import (
    geometric,
    linear_between,
    periods,
    progress,
)

__all__ = [
    "Warmup",
    "Cycle",
    "Shift",
    "Clip",
    "Quantize",
    "Perturb",
    "warmup",
    "cycle",
    "shift",
    "clip",
    "quantize",
    "perturb",
]


def _log(x: Array, xp: Namespace) -> Array:
    """``log(x)``, in float64 when ``x`` is a number (float32 would round it first)."""
    return math.log(x) if isinstance(x, (int, float)) else xp.log(x)


@register("warmup")
class Warmup(Schedule):
    """Warmup in front of ``schedule``.

    For ``t < w`` (``w = warmup_steps``) the value goes from ``init_value`` to
    the target ``schedule(0)`` (``clock="after_warmup"``, the default: the
    wrapped schedule's clock starts at 0 when the warmup ends, so its length
    does *not* include the warmup) or ``schedule(w)`` (``clock="global"``: the
    wrapped schedule sees the global step and its length includes the warmup):

    * ``shape="linear"``: ``init + (target - init) * t / w``;
    * ``shape="exponential"``: ``init * (target / init) ** (t / w)`` (``init_value > 0``);
    * ``shape="constant"``: ``init_value``, then a switch at ``w``.

    Step 0 gives ``init_value`` (set it above 0 so the first update is not
    wasted); step ``w`` gives the target.

    Peers: Optax ``warmup_cosine_decay_schedule(init, peak, w, D, end)`` counts
    the warmup in ``D``: it is ``warmup(cosine_decay(peak, D - w, end), w, init)``.
    Keras ``CosineDecay(init, D, alpha, warmup_target=peak, warmup_steps=w)``
    does not: it is ``warmup(cosine_decay(peak, D, alpha * peak), w, init)``.

    Example:
        >>> from lrsched import cosine_decay, warmup
        >>> s = warmup(cosine_decay(init_value=1.0, decay_steps=100), warmup_steps=10)
        >>> s(5), s(10), s(110)
        (0.5, 1.0, 0.0)
    """

    schedule: Schedule
    warmup_steps: float
    init_value: float = 0.0
    shape: str = "linear"
    clock: str = "after_warmup"

    def _check(self) -> None:
        self._positive("warmup_steps")
        self._non_negative("init_value")
        if self.shape not in ("linear", "exponential", "constant"):
            raise self._fail(f"shape must be 'linear', 'exponential' or 'constant', got {self.shape!r}")
        if self.clock not in ("after_warmup", "global"):
            raise self._fail(f"clock must be 'after_warmup' or 'global', got {self.clock!r}")
        self._target_value()  # computed now, so that evaluation (e.g. under torch.compile) only reads it
        if self.shape == "exponential":
            if not self.init_value > 0:
                raise self._fail(f"init_value must be > 0 for an exponential warmup, got {self.init_value!r}")
            target = self._target_value()
            if not target > 0:
                raise self._fail(f"an exponential warmup needs a target value > 0 when the warmup ends, got {target!r}")

    def stacked_constants(self) -> dict[str, float]:
        return {"target": self._target_value()}

    def _target_value(self) -> float:
        at = 0 if self.clock == "after_warmup" else self.warmup_steps
        return self._cached("target", lambda: self.schedule(at))  # type: ignore[no-any-return]

    def _eval(self, t: Array, xp: Namespace) -> Array:
        w = self.warmup_steps
        after = self.clock == "after_warmup"
        inner = self.schedule._eval(xp.maximum(t - w, 0.0) if after else t, xp)
        target = self._target_value()  # in a stacked join: the pieces' targets, stacked (no second evaluation)
        x = progress(t, w, xp)
        if self.shape == "linear":
            ramp = linear_between(self.init_value, target, x)
        elif self.shape == "exponential":
            ramp = self.init_value * xp.exp(x * (_log(target, xp) - _log(self.init_value, xp)))  # no ratio overflow
        else:
            ramp = xp.full_like(t, self.init_value)
        return xp.where(t < w, ramp, inner)

    def phase_at(self, step: float) -> str | None:
        if step < self.warmup_steps:
            return "warmup"
        return self.schedule.phase_at(step - self.warmup_steps if self.clock == "after_warmup" else step)

    def landmarks(self, end: float) -> Iterator[Landmark]:
        w = float(self.warmup_steps)
        if w <= end:
            yield (w, "warmup", "warmup end")
        yield from landmarks_of(self.schedule, w if self.clock == "after_warmup" else 0.0, w, end)


@register("cycle")
class Cycle(Schedule):
    """Repeat ``schedule`` every ``period`` steps, cycle ``k`` scaled by ``decay ** k``.

    ``schedule(t mod period) * decay ** floor(t / period)``: a restart at each multiple of ``period``.

    Example:
        >>> from lrsched import cycle, linear
        >>> cycle(linear(1.0, 0.0, 10), period=10, decay=0.5)(15)
        0.25
    """

    schedule: Schedule
    period: float
    decay: float = 1.0

    def _check(self) -> None:
        self._positive("period")
        self._positive("decay")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        k = periods(t, self.period, xp)
        # In float32 ``k * period`` is rounded: the local step could leave [0, period] and the schedule extrapolate.
        value = self.schedule._eval(xp.minimum(xp.maximum(t - k * self.period, 0.0), self.period), xp)
        return value if is_number(self.decay) and self.decay == 1 else value * geometric(self.decay, k, xp)

    def phase_at(self, step: float) -> str | None:
        return self.schedule.phase_at(step - periods(step, self.period, PYTHON) * self.period)

    def landmarks(self, end: float) -> Iterator[Landmark]:
        """Restarts only (the wrapped schedule's own landmarks repeat every period)."""
        for k in range(1, MAX_LANDMARKS):
            if k * self.period > end:
                return
            yield (k * float(self.period), "restart", f"restart {k}")


@register("shift")
class Shift(Schedule):
    """Offset the clock: ``schedule(max(t - offset, 0))``.

    ``offset > 0`` delays the schedule (it holds its step-0 value until then);
    ``offset < 0`` starts it ``-offset`` steps in.

    Example:
        >>> from lrsched import linear, shift
        >>> shift(linear(0.0, 1.0, 10), offset=5)(10)
        0.5
    """

    schedule: Schedule
    offset: float

    def _eval(self, t: Array, xp: Namespace) -> Array:
        return self.schedule._eval(xp.maximum(t - self.offset, 0.0), xp)

    def phase_at(self, step: float) -> str | None:
        return self.schedule.phase_at(max(step - self.offset, 0.0))

    def landmarks(self, end: float) -> Iterator[Landmark]:
        yield from landmarks_of(self.schedule, float(self.offset), 0.0, end)


@register("clip")
class Clip(Schedule):
    """``min(max(schedule(t), min_value), max_value)``; either bound may be ``None``.

    Example:
        >>> from lrsched import clip, linear
        >>> clip(linear(0.0, 1.0, 10), min_value=0.2)(0)
        0.2
    """

    schedule: Schedule
    min_value: float | None = None
    max_value: float | None = None

    def _check(self) -> None:
        lo, hi = self.min_value, self.max_value
        if lo is None and hi is None:
            raise self._fail("give min_value, max_value or both")
        if lo is not None and hi is not None and lo > hi:
            raise self._fail(f"min_value must be <= max_value, got {lo!r} > {hi!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        value = self.schedule._eval(t, xp)
        if self.min_value is not None:
            value = xp.maximum(value, self.min_value)
        if self.max_value is not None:
            value = xp.minimum(value, self.max_value)
        return value

    def phase_at(self, step: float) -> str | None:
        return self.schedule.phase_at(step)


@register("quantize")
class Quantize(Schedule):
    """Hold the value constant within each epoch of ``steps_per_epoch`` steps.

    ``schedule(floor(t / n) * n)``, or ``schedule(floor(t / n))`` when
    ``schedule_in_epochs=True`` (a schedule written in epochs, fed optimizer steps).

    Example:
        >>> from lrsched import linear, quantize
        >>> quantize(linear(1.0, 0.0, 10), steps_per_epoch=100, schedule_in_epochs=True)(250)
        0.8
    """

    schedule: Schedule
    steps_per_epoch: float
    schedule_in_epochs: bool = False

    def _check(self) -> None:
        self._positive("steps_per_epoch")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        epoch = periods(t, self.steps_per_epoch, xp)
        return self.schedule._eval(epoch if self.schedule_in_epochs else epoch * self.steps_per_epoch, xp)

    def phase_at(self, step: float) -> str | None:
        epoch = periods(step, self.steps_per_epoch, PYTHON)
        return self.schedule.phase_at(epoch if self.schedule_in_epochs else epoch * self.steps_per_epoch)

    def landmarks(self, end: float) -> Iterator[Landmark]:
        if not self.schedule_in_epochs:  # an inner clock in epochs has no landmarks in steps
            yield from self.schedule.landmarks(end)


@register("perturb")
class Perturb(Schedule):
    """Deterministic multiplicative noise: ``schedule(t) * (1 + amplitude * (2u - 1))``.

    ``u`` in ``[0, 1)`` is a 32-bit integer hash of ``(seed, floor(t / every))``,
    computed with the same integer operations on every backend, so the values
    are identical everywhere (for ``t / every < 2**31``). No random state.

    Example:
        >>> from lrsched import constant, perturb
        >>> p = perturb(constant(1.0), amplitude=0.1, seed=3)
        >>> 0.9 <= p(7) <= 1.1, p(7) == p(7.5)
        (True, True)
    """

    schedule: Schedule
    amplitude: float
    seed: int = 0
    every: float = 1

    def _check(self) -> None:
        if not 0 <= self.amplitude < 1:
            raise self._fail(f"amplitude must be in [0, 1), got {self.amplitude!r}")
        if not 0 <= self.seed < 2**31:
            raise self._fail(f"seed must be in [0, 2**31), got {self.seed!r}")
        self._positive("every")

    def noise(self, t: Array, xp: Namespace) -> Array:
        """The uniform ``u`` in ``[0, 1)`` at (already validated) step ``t``."""
        # Capped at 2**53 so that every backend converts the count to an integer the same way (tiny ``every``).
        h = xp.to_int32(xp.minimum(periods(t, self.every, xp), 2.0**53))
        h = xp.mul_int32(h ^ _seed_mix(self.seed), 0x9E3779B1) ^ _SALT
        h = xp.xorshift_right(h, 16)
        h = xp.mul_int32(h, 0x85EBCA6B)
        h = xp.xorshift_right(h, 13)
        h = xp.mul_int32(h, 0xC2B2AE35)
        h = xp.xorshift_right(h, 16)
        return xp.low24_as_float(h, t)

    def _eval(self, t: Array, xp: Namespace) -> Array:
        u = self.noise(t, xp)
        return self.schedule._eval(t, xp) * (1.0 + self.amplitude * (2.0 * u - 1.0))

    def phase_at(self, step: float) -> str | None:
        return self.schedule.phase_at(step)


_SALT = 0x5BD1E995 - (1 << 32) if 0x5BD1E995 >= 1 << 31 else 0x5BD1E995


def _seed_mix(seed: int) -> int:
    """The seed spread over 32 bits, as a signed 32-bit integer."""
    v = (seed * 0x27D4EB2D + 0x165667B1) & 0xFFFFFFFF
    return v - (1 << 32) if v >= 1 << 31 else v


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call.
warmup = Warmup
cycle = Cycle
shift = Shift
clip = Clip
quantize = Quantize
perturb = Perturb
