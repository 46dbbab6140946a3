"""``GreedyScheduler``: the stateful GreedyLR closure, ``lr = sched(loss)``.

It runs the rules of :func:`lrsched.greedy.core.update_state` on plain Python
floats held in attributes (no arrays, no per-call allocation), which makes one
step cheaper than the reference's; the tests check it against the pure core
step for step. ``state`` / ``load_state`` convert to and from ``GreedyState``.
"""

from __future__ import annotations

import json
import math
from typing import Any

from lrsched.greedy.core import BLOCK, GreedyState, window_total
from lrsched.greedy.settings import GreedyLR

__all__ = ["GreedyScheduler"]

_STATE_VERSION = 1


class GreedyScheduler:
    """Stateful GreedyLR: call it with each monitored value, get the LR for the next step.

    Example:
        >>> sched = GreedyScheduler(GreedyLR(init_lr=0.1, patience=1, factor=0.5))
        >>> [sched(loss) for loss in (1.0, 1.0, 1.0, 0.5, 0.4)]
        [0.1, 0.1, 0.05, 0.05, 0.1]
    """

    _lr: Any  # float, or a list per group
    _best: float  # oriented: best * sign, so smaller is better in both modes
    _good: int
    _bad: int
    _cooldown: int
    _warmup: int
    _reset_left: int
    _buf: list[float]
    _blocks: list[float] | None
    _count: int
    _pos: int
    _step: int
    _init_lr: Any

    def __init__(self, settings: GreedyLR, lr: Any = None) -> None:
        if not isinstance(settings, GreedyLR):
            raise TypeError(f"GreedyScheduler: settings must be a GreedyLR, got {type(settings).__name__}")
        g = self.settings = settings
        state = g.init(lr)
        self._groups = len(state.lr) if isinstance(state.lr, tuple) else 0
        self._mins = [GreedyLR.bound(g.min_lr, i) for i in range(self._groups or 1)]
        self._maxs = [GreedyLR.bound(g.max_lr, i) for i in range(self._groups or 1)]
        self._min0 = self._mins[0]
        self._max0 = math.inf if self._maxs[0] is None else self._maxs[0]
        self._worst = math.inf if g.mode == "min" else -math.inf
        # 'better' as one expression, exact for every mode: values are oriented by
        # sign (max -> min), then  v < best * scale - abs_threshold  (see _greedy_core._is_better).
        self._sign = 1.0 if g.mode == "min" else -1.0
        rel = g.threshold_mode == "rel"
        self._scale_pos = 1.0 - g.threshold if rel else 1.0  # best >= 0
        self._scale_neg = 1.0 + g.threshold if rel else 1.0  # best < 0
        self._abs_threshold = 0.0 if rel else g.threshold
        self._patience = g.patience
        self._can_increase = g.increase
        self._size = g.window if g.window > 1 else 0
        self._skip = g.nonfinite == "skip"
        self.load_state(state)

    # -- the fast path -------------------------------------------------------
    def __call__(self, value: Any) -> Any:
        """Observe ``value`` (a number, or anything ``float()`` accepts); return the new LR."""
        v = value if type(value) is float else float(value)
        self._step += 1
        if v - v == 0.0:  # finite
            if self._size:  # the mean of the values held (see window_total)
                buf, pos = self._buf, self._pos
                buf[pos] = v
                self._pos = 0 if pos + 1 == self._size else pos + 1
                if self._count < self._size:
                    self._count += 1
                v = (sum(buf) if self._blocks is None else self._block_total(pos)) / self._count
            v *= self._sign
            best = self._best  # oriented: the smaller the better
            better = v < best * (self._scale_pos if best >= 0 else self._scale_neg) - self._abs_threshold
        elif self._skip:
            return self._lr if self._groups == 0 else tuple(self._lr)
        else:
            better = False
        if self._cooldown > 0 or self._warmup > 0:
            self._wait(better, v)
        elif better:
            self._best = v
            self._bad = 0
            self._good += 1
            if self._good > self._patience and self._can_increase:
                self._increase()
        else:
            self._good = 0
            self._bad += 1
            if self._bad > self._patience:
                self._decrease()
        return self._lr if self._groups == 0 else tuple(self._lr)

    step = __call__

    def _block_total(self, pos: int) -> float:
        """Window total when it spans several blocks: only the block holding slot ``pos`` changed."""
        blocks = self._blocks
        start = pos - pos % BLOCK
        blocks[pos // BLOCK] = sum(self._buf[start : start + BLOCK])  # type: ignore[index]
        return sum(blocks)  # type: ignore[arg-type]

    def _wait(self, better: bool, v: float) -> None:
        """A step of cooldown (first) or warmup: no decision, run counters zeroed."""
        if self._cooldown > 0:
            self._cooldown -= 1
        else:
            self._warmup -= 1
        self._good = self._bad = 0
        if better and self.settings.track_best_during_wait:
            self._best = v

    def _increase(self) -> None:
        g = self.settings
        self._good = 0
        self._warmup = g.warmup
        self._reset_left = g.reset_count
        if self._groups == 0:
            old = self._lr
            new = old / g.factor
            if new > self._max0:
                new = self._max0
            if new - old > g.eps:
                self._lr = new
            return
        for i, old in enumerate(self._lr):
            hi = self._maxs[i]
            new = old / g.factor if hi is None else min(old / g.factor, hi)
            if new - old > g.eps:
                self._lr[i] = new

    def _decrease(self) -> None:
        g = self.settings
        self._bad = 0
        if self._groups == 0:
            old = self._lr
            new = old * g.factor
            if new < self._min0:
                new = self._min0
            if old - new > g.eps:
                self._lr = new
            at_min = not self._lr > self._min0
        else:
            at_min = True
            for i, old in enumerate(self._lr):
                new = max(old * g.factor, self._mins[i])
                if old - new > g.eps:
                    self._lr[i] = new
                at_min = at_min and not self._lr[i] > self._mins[i]
        if at_min and g.reset_start is not None:
            self._reset_left -= 1
            if self._reset_left <= 0:
                self._reset()
        self._cooldown = g.cooldown

    def _reset(self) -> None:
        self._lr = self._init_lr if self._groups == 0 else list(self._init_lr)
        self._best = math.inf  # oriented
        self._good = self._bad = self._warmup = 0
        self._reset_left = self.settings.reset_count
        if self._size:
            self._buf = [0.0] * self._size
            self._count = self._pos = 0
            self._blocks = self._block_sums()

    # -- state -----------------------------------------------------------------
    @property
    def lr(self) -> Any:
        """The current LR (a float, or a tuple per parameter group)."""
        return self._lr if self._groups == 0 else tuple(self._lr)

    @property
    def state(self) -> GreedyState:
        """The current state as the pure core's ``GreedyState``."""
        lr = self.lr
        buf = tuple(self._buf) if self._size else ()
        return GreedyState(
            lr, self._best * self._sign, self._good, self._bad, self._cooldown, self._warmup, self._reset_left,
            buf, self._count, self._pos, self._step, self._init_lr,
        )  # fmt: skip

    def load_state(self, state: GreedyState) -> None:
        """Continue from ``state`` (from :attr:`state` or ``GreedyLR.init``/``update``)."""
        state = GreedyState(*(_plain(name, v) for name, v in zip(GreedyState._fields, state)))
        if len(state.window) != self._size:
            raise ValueError(f"GreedyScheduler: state has a window of {len(state.window)} slots, expected {self._size}")
        lr = state.lr
        if self._groups:
            if not isinstance(lr, tuple) or len(lr) != self._groups:
                raise ValueError(f"GreedyScheduler: state.lr must hold {self._groups} per-group LRs, got {lr!r}")
            lr = list(lr)
        self._lr, self._best, self._good, self._bad = lr, state.best * self._sign, state.good, state.bad
        self._cooldown, self._warmup, self._reset_left = state.cooldown, state.warmup, state.reset_left
        self._buf, self._count, self._pos = list(state.window), state.count, state.pos
        self._blocks = self._block_sums()
        self._step, self._init_lr = state.step, state.init_lr

    def _block_sums(self) -> list[float] | None:
        """Per-block sums of the window (``None`` for a single block: then ``sum(buf)`` is the total)."""
        if self._size <= BLOCK:
            return None
        return [window_total(tuple(self._buf[i : i + BLOCK])) for i in range(0, self._size, BLOCK)]

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON data (strict JSON: ``best`` is ``None`` before the first value)."""
        data: dict[str, Any] = {"version": _STATE_VERSION}
        for name, value in zip(GreedyState._fields, self.state):
            if name == "best" and not math.isfinite(value):
                value = None
            data[name] = list(value) if isinstance(value, tuple) else value
        return data

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the run continues exactly as if uninterrupted."""
        if not isinstance(state_dict, dict) or state_dict.get("version") != _STATE_VERSION:
            raise ValueError(f"GreedyScheduler: not a GreedyScheduler state_dict (version {_STATE_VERSION})")
        missing = [n for n in GreedyState._fields if n not in state_dict]
        if missing:
            raise ValueError(f"GreedyScheduler: state_dict is missing {', '.join(missing)}")
        values = {n: state_dict[n] for n in GreedyState._fields}
        if values["best"] is None:
            values["best"] = self._worst
        self.load_state(GreedyState(**{n: tuple(v) if isinstance(v, list) else v for n, v in values.items()}))

    def to_config(self) -> dict[str, Any]:
        """The settings' config; ``GreedyScheduler(lrsched.from_config(cfg))`` rebuilds it."""
        return self.settings.to_config()

    def __repr__(self) -> str:
        return f"GreedyScheduler({self.settings!r}, lr={self.lr!r}, step={self._step})"

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "state": json.dumps(self.state_dict())}

    def __setstate__(self, data: dict[str, Any]) -> None:
        self.__init__(data["settings"])  # type: ignore[misc]
        self.load_state_dict(json.loads(data["state"]))


def _plain(name: str, value: Any) -> Any:
    """A state leaf as Python numbers (arrays from a jitted run are accepted)."""
    if isinstance(value, (tuple, list)):
        return tuple(_plain(name, v) for v in value)
    if getattr(value, "ndim", 0) == 1:  # a (window,) array
        return tuple(float(v) for v in value.tolist())
    if name in ("lr", "best", "window", "init_lr"):
        return float(value)
    return int(value)
