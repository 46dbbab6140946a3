"""Cyclical schedules: one-cycle and cyclic (triangular) learning rates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lrsched._core.backend import Array, Namespace
from lrsched._core.schedule import Landmark, Schedule, register
from lrsched.schedules.curves import (
    anneal,
    clip01,
    geometric,
    periods,
    progress,
)

__all__ = [
    "OneCycle",
    "Cyclic",
    "one_cycle",
    "cyclic",
]


@register("one_cycle")
class OneCycle(Schedule):
    """One-cycle policy (Smith & Topin 2018), as torch ``OneCycleLR`` / Optax ``cosine_onecycle_schedule``.

    ``init = peak / div_factor``, ``floor = init / final_div_factor``, ``p = pct_start``, ``T = total_steps``.

    * two phases: ``init -> peak`` on ``[0, pT]``, ``peak -> floor`` on ``[pT, T]``;
    * ``three_phase=True``: ``init -> peak`` on ``[0, pT]``, ``peak -> init`` on
      ``[pT, 2pT]``, ``init -> floor`` on ``[2pT, T]``.

    Each phase anneals by ``anneal`` (``"cosine"`` or ``"linear"``); ``floor``
    holds after ``T``. Phase ends are at ``pT`` and ``T`` exactly. Optax's
    ``cosine_onecycle_schedule`` ends the first phase at ``int(pT)``: the two
    agree exactly where ``pT`` is an integer, and differ between ``int(pT)``
    and ``pT`` otherwise. torch puts the ends one step earlier (``pT - 1``, ``T - 1``).

    Example:
        >>> from lrsched import one_cycle
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
    read_through_constants = ("total_steps", "pct_start", "div_factor", "final_div_factor")

    def _check(self) -> None:
        self._non_negative("peak_value")
        self._positive("total_steps")
        self._positive("div_factor")
        self._positive("final_div_factor")
        upper = 0.5 if self.three_phase else 1.0
        if not 0 < self.pct_start < upper:
            raise self._fail(f"pct_start must be in (0, {upper}), got {self.pct_start!r}")
        if self.anneal not in ("cosine", "linear"):
            raise self._fail(f"anneal must be 'cosine' or 'linear', got {self.anneal!r}")

    def stacked_constants(self) -> dict[str, float]:
        return self._phase_constants()

    def _phase_constants(self) -> dict[str, Any]:
        """``init``, ``floor``, the phase end ``up`` and the later phases' lengths, from the settings.

        Stacked as columns in a join (see :meth:`Schedule.stacked_constants`), so that pieces with distinct
        settings read them instead of deriving them per step; the same float64 operations either way.
        """

        def build() -> dict[str, float]:
            init = self.peak_value / self.div_factor
            up = self.pct_start * self.total_steps
            lengths = (
                {"back": up, "tail": self.total_steps - 2 * up} if self.three_phase else {"fall": self.total_steps - up}
            )
            return {"init": init, "floor": init / self.final_div_factor, "up": up, **lengths}

        keys = ("init", "floor", "up", *(("back", "tail") if self.three_phase else ("fall",)))
        built: dict[str, float] = {}

        def one(key: str) -> Any:
            if not built:
                built.update(build())
            return built[key]

        return {key: self._cached(key, lambda key=key: one(key)) for key in keys}  # type: ignore[misc]

    def _eval(self, t: Array, xp: Namespace) -> Array:
        c = self._phase_constants()
        peak, init, floor, up = self.peak_value, c["init"], c["floor"], c["up"]
        kind = self.anneal
        rise = anneal(kind, init, peak, progress(t, up, xp), xp)
        if not self.three_phase:
            fall = anneal(kind, peak, floor, clip01((t - up) / c["fall"], xp), xp)
            return xp.where(t < up, rise, fall)
        back = anneal(kind, peak, init, clip01((t - up) / c["back"], xp), xp)
        tail = anneal(kind, init, floor, clip01((t - 2 * up) / c["tail"], xp), xp)
        return xp.where(t < up, rise, xp.where(t < 2 * up, back, tail))

    def landmarks(self, end: float) -> Iterator[Landmark]:
        yield (float(self.pct_start * self.total_steps), "warmup", "warmup end")


@register("cyclic")
class Cyclic(Schedule):
    """Cyclical learning rate (Smith 2017), as torch ``CyclicLR``.

    A cycle is ``step_size_up`` steps from ``base_value`` to ``max_value`` and
    ``step_size_down`` (default: ``step_size_up``) steps back. The amplitude
    ``max_value - base_value`` is scaled per ``mode``: ``"triangular"`` by 1,
    ``"triangular2"`` by ``1 / 2**(cycle - 1)`` (``cycle`` counts from 1),
    ``"exp_range"`` by ``gamma ** t``.

    Example:
        >>> from lrsched import cyclic
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
        self._non_negative("base_value")
        if self.max_value < self.base_value:
            raise self._fail(f"max_value must be >= base_value, got {self.max_value!r}")
        self._positive("step_size_up")
        if self.step_size_down is not None:
            self._positive("step_size_down")
        if self.mode not in ("triangular", "triangular2", "exp_range"):
            raise self._fail(f"mode must be 'triangular', 'triangular2' or 'exp_range', got {self.mode!r}")
        if not 0 < self.gamma <= 1:
            raise self._fail(f"gamma must be in (0, 1], got {self.gamma!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
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


# Factories: the registered name of each schedule is the name it is built by, so ``repr`` reads like the call.
one_cycle = OneCycle
cyclic = Cyclic
