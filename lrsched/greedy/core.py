"""GreedyLR's pure state machine: ``GreedyState`` and one ``update`` written once for every backend.

The update never branches in Python on a *value*: every decision is a
``where`` select of the array namespace ``xp`` (``lrsched._core.backend``), so the
same code runs on Python numbers and, unchanged, under ``jax.jit``,
``jax.vmap`` and ``lax.scan``. Python branches only on settings (static).
The rules are documented in :mod:`lrsched.greedy`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple, Protocol

from lrsched._core.backend import PYTHON, Array, Namespace
from lrsched.controllers.ops import finite_or, select

__all__ = ["BLOCK", "GreedyState", "VECTOR_FIELDS", "initial_state", "update_state", "window_total"]


class GreedyState(NamedTuple):
    """GreedyLR's whole state: a small immutable record of numbers (a JAX pytree).

    ``lr`` is the current learning rate (a number, or a tuple with one entry
    per parameter group). The other fields are the controller's bookkeeping.
    """

    lr: Any  #: current LR: a number or a per-group tuple
    best: Any  #: best (smoothed) value seen; +inf ('min') / -inf ('max') before the first
    good: Any  #: consecutive improvements
    bad: Any  #: consecutive non-improvements
    cooldown: Any  #: steps left in the cooldown after a decrease
    warmup: Any  #: steps left in the wait after an increase (a counter, not an LR ramp)
    reset_left: Any  #: decrease attempts at min_lr left before a reset (0 when resets are off)
    window: Any  #: smoothing slots: a tuple of ``window`` numbers (empty when window == 1); an array with ``like``
    count: Any  #: values held in the window (<= window)
    pos: Any  #: slot the next value is written to
    step: Any  #: number of updates so far
    init_lr: Any  #: LR restored by a reset (same shape as ``lr``)
    total: Any  #: sum of the values held (a running sum: rule 1 of :mod:`lrsched.greedy`); () when window == 1


class GreedyLR(Protocol):
    """The settings the rules read (:class:`lrsched.GreedyLR` is the value that holds them)."""

    @property
    def factor(self) -> float: ...
    @property
    def patience(self) -> int: ...
    @property
    def threshold(self) -> float: ...
    @property
    def threshold_mode(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def window(self) -> int: ...
    @property
    def cooldown(self) -> int: ...
    @property
    def warmup(self) -> int: ...
    @property
    def eps(self) -> float: ...
    @property
    def reset_start(self) -> int | None: ...
    @property
    def increase(self) -> bool: ...
    @property
    def nonfinite(self) -> str: ...
    @property
    def track_best_during_wait(self) -> bool: ...

    def lr_bounds(self, group: int) -> tuple[float, float | None]: ...


VECTOR_FIELDS = frozenset({"window"})  #: fields holding one vector (the smoothing slots)
BLOCK = 64  #: smoothing slots summed per block (see ``window_total``)


def initial_state(g: GreedyLR, lr: Any) -> GreedyState:
    """The state before the first value, in Python numbers (``int`` leaves are the counters)."""
    worst = math.inf if g.mode == "min" else -math.inf
    slots, total = ((0.0,) * g.window, 0.0) if g.window > 1 else ((), ())
    reset = g.reset_start if g.reset_start is not None else 0
    return GreedyState(lr, worst, 0, 0, 0, 0, reset, slots, 0, 0, 0, lr, total)


def _where(cond: Array, a: Array, b: Array, xp: Namespace) -> Array:
    """``xp.where`` with conditions fixed by the settings (Python bools) folded."""
    if cond is True or cond is False:
        return a if cond else b
    return xp.where(cond, a, b)


def _select(cond: Array, a: Array, b: Array, xp: Namespace) -> Array:
    if isinstance(a, tuple):
        return tuple(_where(cond, x, y, xp) for x, y in zip(a, b))
    return _where(cond, a, b, xp)


def _is_better(g: GreedyLR, current: Array, best: Array, xp: Namespace) -> Array:
    thr = g.threshold
    if g.threshold_mode == "abs":
        return current < best - thr if g.mode == "min" else current > best + thr
    # 'rel': scale the *magnitude* of best, so negative metrics work (see the docs).
    if g.mode == "min":
        return current < best * xp.where(best >= 0, 1.0 - thr, 1.0 + thr)
    return current > best * xp.where(best >= 0, 1.0 + thr, 1.0 - thr)


def _smooth(g: GreedyLR, state: GreedyState, v: Array, finite: Array, xp: Namespace) -> tuple[Array, ...]:
    """Write ``v`` into the ring buffer (finite values only); the window's new total and the mean of the values held.

    The total is a running sum (add the new value, less the one it replaces), summed afresh from the values held
    (``window_total``) whenever the ring wraps, and whenever the value replaced outweighs the running sum (a spike
    leaving the window: the subtraction would cancel). Rounding never accumulates past one window, a spike leaves
    no trace, and an update costs the same whatever the window (the fresh sum once per window).
    """
    size = g.window
    old = xp.ring_read(state.window, state.pos)  # 0.0 in a slot not yet filled
    slots = xp.ring_write(state.window, state.pos, v, finite)
    running = state.total + (v - old)
    afresh = (state.pos + 1 == size) | (xp.abs(old) > xp.abs(running))
    fresh = xp.call(sum if xp.is_scalar and size <= BLOCK else window_total, slots)  # sum(): window_total's
    total = xp.where(finite, xp.where(afresh, fresh, running), state.total)
    count = xp.where(finite, xp.minimum(state.count + 1, size), state.count)
    pos = xp.where(finite, xp.where(state.pos + 1 == size, 0, state.pos + 1), state.pos)
    return slots, total, count, pos, total / xp.maximum(count, 1)


def window_total(slots: Any) -> Any:
    """Sum of the smoothing slots, computed afresh: sequential within blocks of ``BLOCK`` slots,
    then over the block sums (the same rounding on every backend; unfilled slots hold 0.0).
    An array holds the slots on its last axis."""
    if not isinstance(slots, (tuple, list)):
        slots = tuple(slots[..., i] for i in range(slots.shape[-1]))
    # sum() adds left to right from 0: exactly the sequential sum, on numbers and on arrays.
    if len(slots) <= BLOCK:
        return sum(slots)
    return sum(sum(slots[start : start + BLOCK]) for start in range(0, len(slots), BLOCK))


def _change_lr(g: GreedyLR, lr: Array, inc: Array, dec: Array, xp: Namespace) -> tuple[Array, Array]:
    """The LR after an increase (``inc``) or a decrease (``dec``), and whether all groups sit at min_lr."""
    groups = lr if isinstance(lr, tuple) else (lr,)
    out, at_min = [], True
    for i, old in enumerate(groups):
        lo, hi = g.lr_bounds(i)
        down = xp.maximum(old * g.factor, lo)
        down = xp.where(old - down > g.eps, down, old)
        at_min = at_min & (down <= lo)
        new = _where(dec, down, old, xp)
        if g.increase:
            up = xp.true_divide(old, g.factor)
            # Uncapped (max_lr=None): an increase that would overflow to inf is not applied; the LR stays finite.
            up = finite_or(up, old, xp)[0] if hi is None else xp.minimum(up, hi)
            new = _where(inc, xp.where(up - old > g.eps, up, old), new, xp)
        out.append(new)
    return (tuple(out) if isinstance(lr, tuple) else out[0]), at_min


def _count(g: GreedyLR, state: GreedyState, better: Array, current: Array, xp: Namespace) -> dict[str, Any]:
    """Rules 3-4: tick the waits, update ``best`` and the run counters, decide ``inc``/``dec``."""
    in_cool = state.cooldown > 0
    waiting = in_cool | (state.warmup > 0)
    track = better if g.track_best_during_wait else xp.where(waiting, False, better)
    good = xp.where(waiting, 0, xp.where(better, state.good + 1, 0))
    bad = xp.where(waiting, 0, xp.where(better, 0, state.bad + 1))
    inc = (good > g.patience) if g.increase else False
    return dict(
        cooldown=xp.where(in_cool, state.cooldown - 1, state.cooldown),
        warmup=xp.where(in_cool, state.warmup, xp.where(waiting, state.warmup - 1, state.warmup)),
        best=xp.where(track, current, state.best),
        good=good,
        bad=bad,
        inc=inc,
        dec=_where(inc, False, bad > g.patience, xp),
    )


def _reset_rule(
    g: GreedyLR, reset_left: Array, inc: Array, dec: Array, at_min: Array, xp: Namespace
) -> tuple[Array, Array]:
    """Rule 5: the attempts left after this step, and whether the controller resets now."""
    reset = False
    count = g.reset_start if g.reset_start is not None else 0
    if g.increase:
        reset_left = _where(inc, count, reset_left, xp)
    if g.reset_start is not None:
        sat = dec & at_min
        reset = sat & (reset_left - 1 <= 0)
        reset_left = xp.where(sat, xp.where(reset, count, reset_left - 1), reset_left)
    return reset_left, reset


def update_state(g: GreedyLR, state: GreedyState, value: Array, xp: Namespace = PYTHON) -> GreedyState:
    """One GreedyLR step on the monitored ``value``; see :mod:`lrsched.greedy` for the rules."""
    finite = xp.isfinite(value)
    v = xp.where(finite, value, 0.0)
    if g.window > 1:
        slots, total, count, pos, current = _smooth(g, state, v, finite, xp)
    else:
        slots, total, count, pos, current = state.window, state.total, state.count, state.pos, v
    c = _count(g, state, finite & _is_better(g, current, state.best, xp), current, xp)
    inc, dec = c["inc"], c["dec"]
    lr, at_min = _change_lr(g, state.lr, inc, dec, xp)
    reset_left, reset = _reset_rule(g, state.reset_left, inc, dec, at_min, xp)
    empty = (0.0,) * (g.window if g.window > 1 else 0) if xp.is_scalar or isinstance(slots, tuple) else slots * 0.0
    new = GreedyState(
        lr=_select(reset, state.init_lr, lr, xp),
        best=_where(reset, math.inf if g.mode == "min" else -math.inf, c["best"], xp),
        good=_where(inc | reset, 0, c["good"], xp),
        bad=_where(dec, 0, c["bad"], xp),
        cooldown=_where(dec, g.cooldown, c["cooldown"], xp),  # a reset clears it, then the decrease sets it
        warmup=_where(inc, g.warmup, _where(reset, 0, c["warmup"], xp), xp),
        reset_left=reset_left,
        window=slots if reset is False else xp.where_vector(reset, empty, slots),
        count=_where(reset, 0, count, xp),
        pos=_where(reset, 0, pos, xp),
        step=state.step + 1,
        init_lr=state.init_lr,
        total=_where(reset, 0.0, total, xp) if g.window > 1 else total,
    )
    if g.nonfinite == "skip":
        new = select(finite, new, state._replace(step=new.step), xp, VECTOR_FIELDS)
    return new
