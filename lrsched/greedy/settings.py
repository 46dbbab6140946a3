"""``GreedyLR``: the frozen settings value of the GreedyLR controller, with its pure ``init``/``update``.

See :mod:`lrsched.greedy` for the rules, the defaults and examples.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lrsched._core.backend import Namespace
from lrsched._core.validate import flag, integer, number
from lrsched.controllers.knobs import check_knobs
from lrsched.controllers.protocol import Controller, register_controller
from lrsched.greedy.core import VECTOR_FIELDS, GreedyState, cast_state, initial_state, update_state

__all__ = ["GreedyLR", "with_knobs"]

_OWNER = "GreedyLR"
_CHOICES = {"threshold_mode": ("rel", "abs"), "mode": ("min", "max"), "nonfinite": ("bad", "skip")}


def _fail(message: str) -> ValueError:
    return ValueError(f"{_OWNER}: {message}")


def _real(field: str, value: Any, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    return float(number(_OWNER, field, value))


def _reals(field: str, value: Any, optional: bool = False) -> Any:
    """A number or a non-empty tuple of numbers (one per parameter group)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise _fail(f"{field} must hold one value per parameter group, got an empty sequence")
        return tuple(_real(f"{field}[{i}]", v) for i, v in enumerate(value))
    return _real(field, value, optional)


def _as_float(value: Any) -> Any:
    """Python numbers (also NumPy float scalars) as float; arrays unchanged."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return value


@register_controller("greedy")
@dataclasses.dataclass(frozen=True)
class GreedyLR(Controller):
    """GreedyLR settings (every knob) and the pure controller ``init``/``update``.

    Args:
        init_lr: initial LR (a tuple: one per parameter group); may instead be given to ``init(lr=...)``.
        factor: F in (0, 1): a decrease multiplies the LR by F, an increase divides it by F.
        patience: a change needs ``patience + 1`` consecutive improvements (up) or non-improvements (down).
        threshold, threshold_mode: an improvement beats ``best`` by more than ``threshold`` ('abs') or
            ``threshold * |best|`` ('rel').
        mode: 'min' (a loss) or 'max' (e.g. accuracy, reward).
        window: smoothing window; the monitored value is the mean of the last ``window`` finite values (1 = off).
        cooldown: steps without decisions after a decrease.
        warmup: steps without decisions after an increase. A counter, *not* an LR warmup ramp (compose a
            ramp with :func:`lrsched.greedy_on`).
        min_lr, max_lr: bounds (numbers or per-group tuples; ``max_lr=None``: no cap).
        eps: changes of ``eps`` or less are not applied.
        reset_start: after this many decreases with every group at ``min_lr``, return to the initial
            state (``None``: never).
        increase: ``False`` turns increases off (ReduceLROnPlateau).
        nonfinite: 'bad' (NaN/inf count as a non-improvement) or 'skip' (they change nothing but the step).
        track_best_during_wait: keep updating ``best`` during cooldown/warmup (torch's ReduceLROnPlateau).

    Example:
        >>> g = GreedyLR(init_lr=0.1, patience=0, factor=0.5)
        >>> s = g.init()
        >>> for loss in (3.0, 2.0, 2.5):
        ...     s = g.update(s, loss)
        >>> s.lr
        0.2
    """

    init_lr: float | tuple[float, ...] | None = None
    factor: float = 0.95
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    mode: str = "min"
    window: int = 1
    cooldown: int = 0
    warmup: int = 0
    min_lr: float | tuple[float, ...] = 0.0
    max_lr: float | tuple[float, ...] | None = None
    eps: float = 1e-8
    reset_start: int | None = None
    increase: bool = True
    nonfinite: str = "bad"
    track_best_during_wait: bool = False

    vector_fields = VECTOR_FIELDS

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "init_lr", _reals("init_lr", self.init_lr, optional=True))
        put(self, "factor", _real("factor", self.factor))
        put(self, "threshold", _real("threshold", self.threshold))
        put(self, "min_lr", _reals("min_lr", self.min_lr))
        put(self, "max_lr", _reals("max_lr", self.max_lr, optional=True))
        put(self, "eps", _real("eps", self.eps))
        for field in ("patience", "cooldown", "warmup"):
            put(self, field, integer(_OWNER, field, getattr(self, field), 0))
        put(self, "window", integer(_OWNER, "window", self.window, 1))
        if self.reset_start is not None:
            put(self, "reset_start", integer(_OWNER, "reset_start", self.reset_start, 1))
        for field in ("increase", "track_best_during_wait"):
            flag(_OWNER, field, getattr(self, field))
        self._check()

    def _check(self) -> None:
        for field, choices in _CHOICES.items():
            value = getattr(self, field)
            if value not in choices:
                raise _fail(f"{field} must be one of {', '.join(map(repr, choices))}, got {value!r}")
        if not 0.0 < self.factor < 1.0:
            raise _fail(f"factor must be in (0, 1), got {self.factor!r}")
        if self.threshold < 0 or (self.threshold_mode == "rel" and self.threshold >= 1):
            valid = "[0, 1) with threshold_mode='rel'" if self.threshold_mode == "rel" else ">= 0"
            raise _fail(f"threshold must be in {valid}, got {self.threshold!r}")
        if self.eps < 0:
            raise _fail(f"eps must be >= 0, got {self.eps!r}")
        lengths = {len(v) for v in (self.init_lr, self.min_lr, self.max_lr) if isinstance(v, tuple)}
        if len(lengths) > 1:
            raise _fail(f"per-group init_lr/min_lr/max_lr must have the same length, got lengths {sorted(lengths)}")
        for i in range(self.groups or 1):
            lo, hi = self.bound(self.min_lr, i), self.bound(self.max_lr, i)
            if lo is not None and lo < 0:
                raise _fail(f"min_lr must be >= 0, got {self.min_lr!r}")
            if hi is not None and hi < lo:  # type: ignore[operator]
                raise _fail(f"min_lr must be <= max_lr, got min_lr={self.min_lr!r} > max_lr={self.max_lr!r}")
        if self.init_lr is not None:
            self._check_lr("init_lr", self.init_lr)

    def _check_lr(self, field: str, lr: Any) -> None:
        values = lr if isinstance(lr, tuple) else (lr,)
        if self.groups and isinstance(lr, tuple) and len(values) != self.groups:
            raise _fail(f"{field} must have {self.groups} per-group values, got {len(values)}")
        for i, v in enumerate(values):
            if not isinstance(v, (int, float)):
                continue  # an array (maybe traced): cannot be checked here
            lo, hi = self.bound(self.min_lr, i), self.bound(self.max_lr, i)
            if not (lo <= v and (hi is None or v <= hi)):  # type: ignore[operator]
                top = "inf" if hi is None else repr(hi)
                raise _fail(f"{field} must lie in [min_lr, max_lr] = [{lo!r}, {top}], got {v!r}")

    # -- derived constants -------------------------------------------------
    @property
    def groups(self) -> int:
        """Number of parameter groups set by tuples (0: one scalar LR)."""
        for v in (self.init_lr, self.min_lr, self.max_lr):
            if isinstance(v, tuple):
                return len(v)
        return 0

    @property
    def reset_count(self) -> int:
        return self.reset_start if self.reset_start is not None else 0

    @staticmethod
    def bound(value: Any, i: int) -> Any:
        """Group ``i``'s entry of a per-group setting (numbers broadcast)."""
        return value[i] if isinstance(value, tuple) else value

    # -- pure controller -----------------------------------------------------
    def init(self, lr: Any = None, *, like: Any = None) -> GreedyState:
        """The state before the first value.

        ``lr`` overrides ``init_lr`` (e.g. the optimizer's LR; a tuple for
        parameter groups). ``like`` (a JAX or NumPy array) makes every leaf an
        array of that backend: floats in ``like``'s dtype, counters int32, as
        ``lax.scan`` carries and ``vmap`` batches need.
        """
        lr = self.init_lr if lr is None else lr
        if lr is None:
            raise _fail("no initial LR: pass init_lr= to GreedyLR or lr= to init()")
        if isinstance(lr, list):
            lr = tuple(lr)
        if isinstance(lr, tuple) and not lr:
            raise _fail("lr must hold one value per parameter group, got an empty sequence")
        lr = tuple(_as_float(v) for v in lr) if isinstance(lr, tuple) else _as_float(lr)
        self._check_lr("lr", lr)
        if self.groups and not isinstance(lr, tuple):
            lr = (lr,) * self.groups
        state = initial_state(self, lr)
        return state if like is None else cast_state(state, like)

    def rule(self, state: GreedyState, signals: dict[str, Any], xp: Namespace) -> GreedyState:
        """One update on ``signals["loss"]`` with ``xp``'s operations (``lrsched.greedy.core.update_state``)."""
        return update_state(self, state, signals["loss"], xp)

    def update(self, state: GreedyState, value: Any) -> GreedyState:  # type: ignore[override]
        """The state after observing ``value`` (a loss, or a metric with ``mode='max'``; or ``{"loss": value}``).

        ``value`` is a Python number, a NumPy array, a JAX array/tracer or a torch tensor (scalar; batch with
        ``jax.vmap``, or with NumPy arrays whose leading axis runs over controllers). A state of Python numbers
        reads NumPy and torch scalars with ``float()``; a state from ``init(like=tensor)`` stays on the tensor's
        device and is updated with tensor operations (no host sync).
        """
        return super().update(state, value)


def with_knobs(owner: str, settings: GreedyLR | None, knobs: dict[str, Any]) -> GreedyLR:
    """The settings a caller asked for: ``settings`` with ``knobs`` replaced, or ``GreedyLR(**knobs)``.

    Unknown knobs raise a ``TypeError`` naming lrsched's equivalent of torch's and transformers' names.
    """
    check_knobs(owner, GreedyLR, knobs)
    if settings is None:
        return GreedyLR(**knobs)
    if not isinstance(settings, GreedyLR):
        raise TypeError(f"{owner}: settings must be a GreedyLR, got {type(settings).__name__}")
    return dataclasses.replace(settings, **knobs) if knobs else settings
