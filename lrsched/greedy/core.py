"""GreedyLR's pure state machine: ``GreedyState`` and one ``update`` written once for every backend.

The update never branches in Python on a *value*: every decision is a
``where`` select of the array namespace ``xp`` (``lrsched._core.backend``), so the
same code runs on Python numbers and, unchanged, under ``jax.jit``,
``jax.vmap`` and ``lax.scan``. Python branches only on settings (static).
The rules are documented in :mod:`lrsched.greedy`.
"""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any, NamedTuple

from lrsched._core.backend import PYTHON, Namespace, namespace_for

if TYPE_CHECKING:
    from lrsched.greedy.settings import GreedyLR

__all__ = [
    "BLOCK",
    "GreedyState",
    "FLOAT_FIELDS",
    "initial_state",
    "update_state",
    "cast_state",
    "select_state",
    "window_total",
]


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


FLOAT_FIELDS = frozenset({"lr", "best", "window", "init_lr"})
BLOCK = 64  #: smoothing slots summed per block (see ``window_total``)


def initial_state(g: GreedyLR, lr: Any) -> GreedyState:
    """The state before the first value, in Python numbers."""
    worst = math.inf if g.mode == "min" else -math.inf
    slots = (0.0,) * g.window if g.window > 1 else ()
    reset = g.reset_start if g.reset_start is not None else 0
    return GreedyState(lr, worst, 0, 0, 0, 0, reset, slots, 0, 0, 0, lr)


def cast_state(state: GreedyState, like: Any) -> GreedyState:
    """``state`` with array leaves of ``like``'s backend (floats in its dtype, counters int32)."""
    xp = namespace_for(like) if hasattr(like, "dtype") else PYTHON
    if xp.name == "jax":
        jnp = sys.modules["jax.numpy"]
        float_dtype, int_dtype, asarray = like.dtype, jnp.int32, jnp.asarray
    elif xp.name == "numpy":
        np = sys.modules["numpy"]
        float_dtype, int_dtype, asarray = like.dtype, np.int32, np.asarray
    else:
        raise TypeError(f"GreedyLR.init: like must be a JAX or NumPy array, got {type(like).__name__}")
    if float_dtype.kind != "f":
        raise TypeError(f"GreedyLR.init: like must have a floating dtype, got {float_dtype}")

    def leaf(name: str, value: Any) -> Any:
        dtype = float_dtype if name in FLOAT_FIELDS else int_dtype
        if name == "window" and value:  # one (window,) array: fewer leaves, vectorised writes
            return asarray(value, dtype=dtype)
        if isinstance(value, tuple):
            return tuple(asarray(v, dtype=dtype) for v in value)
        return asarray(value, dtype=dtype)

    return GreedyState(*(leaf(n, v) for n, v in zip(GreedyState._fields, state)))


def _select(cond: Any, a: Any, b: Any, xp: Namespace) -> Any:
    if isinstance(a, tuple):
        return tuple(xp.where(cond, x, y) for x, y in zip(a, b))
    return xp.where(cond, a, b)


def _is_better(g: GreedyLR, current: Any, best: Any, xp: Namespace) -> Any:
    thr = g.threshold
    if g.threshold_mode == "abs":
        return current < best - thr if g.mode == "min" else current > best + thr
    # 'rel': scale the *magnitude* of best, so negative metrics work (see the docs).
    if g.mode == "min":
        return current < best * xp.where(best >= 0, 1.0 - thr, 1.0 + thr)
    return current > best * xp.where(best >= 0, 1.0 + thr, 1.0 - thr)


def _smooth(g: GreedyLR, state: GreedyState, v: Any, finite: Any, xp: Namespace) -> tuple[Any, Any, Any, Any]:
    """Write ``v`` into the ring buffer (finite values only); mean of the values held."""
    size = g.window
    if xp.is_scalar:  # eager Python numbers: replace the one slot
        pos, window = state.pos, state.window
        slots = (*window[:pos], v, *window[pos + 1 :]) if finite else window
        total = window_total(slots)
    elif isinstance(state.window, tuple):
        slots = tuple(xp.where(finite & (state.pos == i), v, w) for i, w in enumerate(state.window))
        total = window_total(slots)
    else:  # a (..., window) array (states from ``init(like=...)``; leading axes batch controllers)
        mod = _module(xp)
        here = mod.asarray(finite)[..., None] & (mod.arange(size) == mod.asarray(state.pos)[..., None])
        slots = xp.where(here, mod.asarray(v)[..., None], state.window)
        total = window_total(tuple(slots[..., i] for i in range(size)))
    count = xp.where(finite, xp.minimum(state.count + 1, size), state.count)
    pos = xp.where(finite, xp.where(state.pos + 1 == size, 0, state.pos + 1), state.pos)
    return slots, count, pos, total / xp.maximum(count, 1)


def _module(xp: Namespace) -> Any:
    return sys.modules["jax.numpy"] if xp.name == "jax" else sys.modules["numpy"]


def _isfinite(value: Any, xp: Namespace) -> Any:
    return (value - value) == 0 if xp.is_scalar else _module(xp).isfinite(value)


def window_total(slots: tuple[Any, ...]) -> Any:
    """Sum of the smoothing slots, computed afresh: sequential within blocks of ``BLOCK`` slots,
    then over the block sums (the same rounding on every backend; unfilled slots hold 0.0)."""
    # sum() adds left to right from 0: exactly the sequential sum, on numbers and on arrays.
    return sum(sum(slots[start : start + BLOCK]) for start in range(0, len(slots), BLOCK))


def _divisor(g: GreedyLR, like: Any, xp: Namespace) -> Any:
    """``factor`` as a divisor shaped like ``like``.

    XLA rewrites a division by a constant or a broadcast (also under ``vmap``)
    into a multiplication by the reciprocal, which rounds differently from
    Python's ``lr / factor``; an array of ``like``'s shape behind an
    optimization barrier keeps a true division.
    """
    if xp.name != "jax":
        return g.factor
    return sys.modules["jax"].lax.optimization_barrier(like * 0.0 + g.factor)


def _change_lr(g: GreedyLR, lr: Any, inc: Any, dec: Any, xp: Namespace) -> tuple[Any, Any]:
    """The LR after an increase (``inc``) or a decrease (``dec``), and whether all groups sit at min_lr."""
    groups = lr if isinstance(lr, tuple) else (lr,)
    out, at_min = [], True
    for i, old in enumerate(groups):
        lo, hi = g.bound(g.min_lr, i), g.bound(g.max_lr, i)
        down = xp.maximum(old * g.factor, lo)
        down = xp.where(old - down > g.eps, down, old)
        at_min = at_min & (down <= lo)
        new = xp.where(dec, down, old)
        if g.increase:
            up = old / _divisor(g, old, xp)
            up = up if hi is None else xp.minimum(up, hi)
            new = xp.where(inc, xp.where(up - old > g.eps, up, old), new)
        out.append(new)
    return (tuple(out) if isinstance(lr, tuple) else out[0]), at_min


def _select_window(cond: Any, a: Any, b: Any, xp: Namespace) -> Any:
    """``_select`` for the window: an array window has the slots on its last axis."""
    if isinstance(b, tuple):
        return _select(cond, a, b, xp)
    return xp.where(_module(xp).asarray(cond)[..., None], a, b)


def select_state(cond: Any, a: GreedyState, b: GreedyState, xp: Namespace) -> GreedyState:
    """Field by field ``a if cond else b`` (``cond`` may batch controllers)."""
    return GreedyState._make(
        (_select_window if name == "window" else _select)(cond, x, y, xp) for name, x, y in zip(a._fields, a, b)
    )


def _count(g: GreedyLR, state: GreedyState, better: Any, current: Any, xp: Namespace) -> dict[str, Any]:
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
        dec=xp.where(inc, False, bad > g.patience),
    )


def _reset_rule(g: GreedyLR, reset_left: Any, inc: Any, dec: Any, at_min: Any, xp: Namespace) -> tuple[Any, Any]:
    """Rule 5: the attempts left after this step, and whether the controller resets now."""
    reset = False
    if g.increase:
        reset_left = xp.where(inc, g.reset_count, reset_left)
    if g.reset_start is not None:
        sat = dec & at_min
        reset = sat & (reset_left - 1 <= 0)
        reset_left = xp.where(sat, xp.where(reset, g.reset_count, reset_left - 1), reset_left)
    return reset_left, reset


def update_state(g: GreedyLR, state: GreedyState, value: Any, xp: Namespace = PYTHON) -> GreedyState:
    """One GreedyLR step on the monitored ``value``; see :mod:`lrsched.greedy` for the rules."""
    finite = _isfinite(value, xp)
    v = xp.where(finite, value, 0.0)
    if g.window > 1:
        slots, count, pos, current = _smooth(g, state, v, finite, xp)
    else:
        slots, count, pos, current = state.window, state.count, state.pos, v
    c = _count(g, state, finite & _is_better(g, current, state.best, xp), current, xp)
    inc, dec = c["inc"], c["dec"]
    lr, at_min = _change_lr(g, state.lr, inc, dec, xp)
    reset_left, reset = _reset_rule(g, state.reset_left, inc, dec, at_min, xp)
    new = GreedyState(
        lr=_select(reset, state.init_lr, lr, xp),
        best=xp.where(reset, math.inf if g.mode == "min" else -math.inf, c["best"]),
        good=xp.where(inc | reset, 0, c["good"]),
        bad=xp.where(dec, 0, c["bad"]),
        cooldown=xp.where(dec, g.cooldown, c["cooldown"]),  # a reset clears it, then the decrease sets it
        warmup=xp.where(inc, g.warmup, xp.where(reset, 0, c["warmup"])),
        reset_left=reset_left,
        window=_select_window(reset, tuple(0.0 for _ in slots) if isinstance(slots, tuple) else 0.0, slots, xp),
        count=xp.where(reset, 0, count),
        pos=xp.where(reset, 0, pos),
        step=state.step + 1,
        init_lr=state.init_lr,
    )
    if g.nonfinite == "skip":
        new = select_state(finite, new, state._replace(step=new.step), xp)
    return new
