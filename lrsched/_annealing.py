"""Annealing schedules: cosine, warm restarts, one-cycle, cyclic, inverse-sqrt, WSD and REX."""

from __future__ import annotations

import math
from typing import Any

from lrsched._backend import Namespace
from lrsched._base import Schedule, register
from lrsched._curves import anneal, clip01, geometric, linear_between, periods, progress, remaining
from lrsched._schedules import _non_negative, _positive

__all__ = ["CosineDecay", "CosineRestarts", "OneCycle", "Cyclic", "InverseSqrt", "WarmupStableDecay", "Rex"]


@register("cosine_decay")
class CosineDecay(Schedule):
    """Cosine annealing that holds its end value:

    ``end + (init - end) * ((1 + cos(pi * min(t, T) / T)) / 2) ** exponent``, ``T = decay_steps``.

    Step 0 gives ``init_value``, step ``T`` and later give ``end_value`` (unlike
    torch ``CosineAnnealingLR``, which oscillates back up past ``T_max``). Equals
    Optax ``cosine_decay_schedule`` with ``alpha = end_value / init_value``.

    Example:
        >>> cosine_decay(init_value=1.0, decay_steps=100)(50)
        0.5
    """

    init_value: float
    decay_steps: float
    end_value: float = 0.0
    exponent: float = 1.0

    def _check(self) -> None:
        _non_negative(self, "init_value", "end_value")
        _positive(self, "decay_steps")
        _positive(self, "exponent")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        x = progress(t, self.decay_steps, xp)
        shape = 0.5 + 0.5 * xp.cos(math.pi * x)
        if self.exponent != 1:
            shape = xp.power(shape, self.exponent)
        return self.end_value + (self.init_value - self.end_value) * shape

    _static = ("exponent",)


@register("cosine_restarts")
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
        >>> cosine_restarts(init_value=1.0, first_period=10)(10)
        1.0
    """

    init_value: float
    first_period: float
    period_mult: float = 1.0
    decay: float = 1.0
    end_value: float = 0.0
    decay_mode: str = "peak"

    _static = ("period_mult",)

    def _check(self) -> None:
        _non_negative(self, "init_value", "end_value")
        _positive(self, "first_period")
        if self.period_mult < 1:
            raise self._fail(f"period_mult must be >= 1, got {self.period_mult!r}")
        if not 0 < self.decay <= 1:
            raise self._fail(f"decay must be in (0, 1], got {self.decay!r}")
        if self.decay_mode not in ("peak", "amplitude"):
            raise self._fail(f"decay_mode must be 'peak' or 'amplitude', got {self.decay_mode!r}")

    def cycle_start(self, i: Any, xp: Namespace) -> Any:
        """Step at which cycle ``i`` starts."""
        m, period = self.period_mult, self.first_period
        if m == 1:
            return i * period
        return period * (xp.power(m, i) - 1.0) / (m - 1.0)  # power, not exp(log): exact cycle starts

    def _eval(self, t: Any, xp: Namespace) -> Any:
        m, period = self.period_mult, self.first_period
        if m == 1:
            i = periods(t, period, xp)
        else:
            i = xp.floor(xp.log(1.0 + t * (m - 1.0) / period) / math.log(m))
            # Rounding of log() may put i one cycle off at a cycle boundary.
            i = i + xp.where(t >= self.cycle_start(i + 1.0, xp), 1.0, 0.0)
            i = i - xp.where(t < self.cycle_start(i, xp), 1.0, 0.0)
        start = self.cycle_start(i, xp)
        length = period * xp.power(m, i) if m != 1 else period
        c = 0.5 + 0.5 * xp.cos(math.pi * clip01((t - start) / length, xp))
        factor = geometric(self.decay, i, xp)
        if self.decay_mode == "peak":
            return self.end_value + (self.init_value * factor - self.end_value) * c
        return self.end_value + (self.init_value - self.end_value) * factor * c


@register("one_cycle")
class OneCycle(Schedule):
    """One-cycle policy (Smith & Topin 2018), as torch ``OneCycleLR`` / Optax ``cosine_onecycle_schedule``.

    ``init = peak / div_factor``, ``floor = init / final_div_factor``, ``p = pct_start``, ``T = total_steps``.

    * two phases: ``init -> peak`` on ``[0, pT]``, ``peak -> floor`` on ``[pT, T]``;
    * ``three_phase=True``: ``init -> peak`` on ``[0, pT]``, ``peak -> init`` on
      ``[pT, 2pT]``, ``init -> floor`` on ``[2pT, T]``.

    Each phase anneals by ``anneal`` (``"cosine"`` or ``"linear"``); ``floor``
    holds after ``T``. Phase ends are at ``pT`` and ``T`` exactly, as in Optax;
    torch puts them one step earlier (``pT - 1``, ``T - 1``).

    Example:
        >>> one_cycle(peak_value=1.0, total_steps=100, pct_start=0.25)(25)
        1.0
    """

    peak_value: float
    total_steps: float
    pct_start: float = 0.3
    anneal: str = "cosine"
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    three_phase: bool = False

    def _check(self) -> None:
        _non_negative(self, "peak_value")
        _positive(self, "total_steps")
        _positive(self, "div_factor")
        _positive(self, "final_div_factor")
        upper = 0.5 if self.three_phase else 1.0
        if not 0 < self.pct_start < upper:
            raise self._fail(f"pct_start must be in (0, {upper}), got {self.pct_start!r}")
        if self.anneal not in ("cosine", "linear"):
            raise self._fail(f"anneal must be 'cosine' or 'linear', got {self.anneal!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        peak = self.peak_value
        init = peak / self.div_factor
        floor = init / self.final_div_factor
        up = self.pct_start * self.total_steps
        kind = self.anneal
        rise = anneal(kind, init, peak, progress(t, up, xp), xp)
        if not self.three_phase:
            fall = anneal(kind, peak, floor, clip01((t - up) / (self.total_steps - up), xp), xp)
            return xp.where(t < up, rise, fall)
        back = anneal(kind, peak, init, clip01((t - up) / up, xp), xp)
        tail = anneal(kind, init, floor, clip01((t - 2 * up) / (self.total_steps - 2 * up), xp), xp)
        return xp.where(t < up, rise, xp.where(t < 2 * up, back, tail))


@register("cyclic")
class Cyclic(Schedule):
    """Cyclical learning rate (Smith 2017), as torch ``CyclicLR``.

    A cycle is ``step_size_up`` steps from ``base_value`` to ``max_value`` and
    ``step_size_down`` (default: ``step_size_up``) steps back. The amplitude
    ``max_value - base_value`` is scaled per ``mode``: ``"triangular"`` by 1,
    ``"triangular2"`` by ``1 / 2**(cycle - 1)`` (``cycle`` counts from 1),
    ``"exp_range"`` by ``gamma ** t``.

    Example:
        >>> cyclic(base_value=0.1, max_value=1.0, step_size_up=10)(10)
        1.0
    """

    base_value: float
    max_value: float
    step_size_up: float
    step_size_down: float | None = None
    mode: str = "triangular"
    gamma: float = 1.0

    def _check(self) -> None:
        _non_negative(self, "base_value")
        if self.max_value < self.base_value:
            raise self._fail(f"max_value must be >= base_value, got {self.max_value!r}")
        _positive(self, "step_size_up")
        if self.step_size_down is not None:
            _positive(self, "step_size_down")
        if self.mode not in ("triangular", "triangular2", "exp_range"):
            raise self._fail(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {self.mode!r}")
        if not 0 < self.gamma <= 1:
            raise self._fail(f"gamma must be in (0, 1], got {self.gamma!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        up = self.step_size_up
        down = up if self.step_size_down is None else self.step_size_down
        total = up + down
        ratio = up / total
        done = periods(t, total, xp)  # completed cycles; ``cycle = done + 1`` counts from 1
        # Position in the cycle as ``t - done * total`` (exact), not ``1 + t / total - cycle``
        # (torch's form), which loses digits as the cycle count grows.
        x = clip01((t - done * total) / total, xp)
        cycle = done + 1.0
        shape = xp.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
        if self.mode == "triangular2":
            shape = shape * xp.power(0.5, cycle - 1.0)  # underflows to 0 far out, never overflows
        elif self.mode == "exp_range":
            shape = shape * geometric(self.gamma, t, xp)
        return self.base_value + (self.max_value - self.base_value) * shape


@register("inverse_sqrt")
class InverseSqrt(Schedule):
    """Inverse square root decay with linear warmup (Transformer "Noam" schedule).

    ``init + (peak - init) * t / w`` for ``t < w``, then ``peak * sqrt(w / t)``
    with ``w = warmup_steps``. The Noam form ``d**-0.5 * min(t**-0.5, t * w**-1.5)``
    is ``peak_value = (d * w) ** -0.5``. The decay never ends (no end value).

    Example:
        >>> inverse_sqrt(peak_value=1.0, warmup_steps=100)(400)
        0.5
    """

    peak_value: float
    warmup_steps: float
    init_value: float = 0.0

    def _check(self) -> None:
        _non_negative(self, "peak_value", "init_value")
        _positive(self, "warmup_steps")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        w = self.warmup_steps
        ramp = linear_between(self.init_value, self.peak_value, t / w)
        decay = self.peak_value * xp.sqrt(w / xp.maximum(t, w))
        return xp.where(t < w, ramp, decay)


@register("wsd")
class WarmupStableDecay(Schedule):
    """Warmup-stable-decay ("trapezoidal", Hägele et al. 2024).

    ``total_steps`` includes the warmup. Linear warmup ``init -> peak`` on
    ``[0, w]``, ``peak`` until ``D = total_steps - decay_steps``, then a decay
    ``peak -> end`` on ``[D, total_steps]`` of ``decay_shape`` ``"linear"``,
    ``"cosine"`` or ``"1-sqrt"`` (``1 - sqrt(x)``); ``end_value`` holds after.
    ``warmup_steps=0`` starts at ``peak_value``.

    Example:
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
        _non_negative(self, "peak_value", "init_value", "end_value", "warmup_steps")
        _positive(self, "total_steps")
        _positive(self, "decay_steps")
        if self.warmup_steps + self.decay_steps > self.total_steps:
            raise self._fail(
                f"warmup_steps + decay_steps must be <= total_steps = {self.total_steps!r}, "
                f"got {self.warmup_steps!r} + {self.decay_steps!r}"
            )
        if self.decay_shape not in ("linear", "cosine", "1-sqrt"):
            raise self._fail(f"decay_shape must be 'linear', 'cosine' or '1-sqrt', got {self.decay_shape!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        w = self.warmup_steps
        ramp = linear_between(self.init_value, self.peak_value, progress(t, w, xp))
        start = self.total_steps - self.decay_steps
        x = clip01((t - start) / self.decay_steps, xp)
        body = anneal(self.decay_shape, self.peak_value, self.end_value, x, xp)
        return xp.where(t < w, ramp, body)


@register("rex")
class Rex(Schedule):
    """REX decay (Chen et al. 2021): ``end + (init - end) * (1 - z) / (1/2 + (1 - z)/2)``, ``z = min(t, T)/T``.

    Step 0 gives ``init_value``, ``total_steps`` and later give ``end_value``.

    Example:
        >>> round(rex(init_value=1.0, total_steps=100)(50), 12)
        0.666666666667
    """

    init_value: float
    total_steps: float
    end_value: float = 0.0

    def _check(self) -> None:
        _non_negative(self, "init_value", "end_value")
        _positive(self, "total_steps")

    def _eval(self, t: Any, xp: Namespace) -> Any:
        left = remaining(t, self.total_steps, xp)
        return self.end_value + (self.init_value - self.end_value) * left / (0.5 + 0.5 * left)
