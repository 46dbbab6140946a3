"""``GreedyLR``: the frozen settings value of the GreedyLR controller, with its pure ``init``/``update``.

See :mod:`lrsched.greedy` for the rules, the defaults and examples.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lrsched._core.backend import Namespace
from lrsched._core.validate import MAX_COUNT, choice, flag, integer, optional_real_in, per_group, real_in
from lrsched.controllers.knobs import check_knobs
from lrsched.controllers.protocol import Controller, register_controller
from lrsched.controllers.state import state_from_json, state_to_json
from lrsched.greedy.core import VECTOR_FIELDS, GreedyState, initial_state, update_state, window_total

__all__ = ["GreedyLR", "MAX_WINDOW", "with_knobs"]

#: The longest smoothing window (the state holds one slot per value; transformers' GreedyLR uses 10-50).
MAX_WINDOW = 65_536


@register_controller("greedy")
@dataclasses.dataclass(frozen=True, kw_only=True)
class GreedyLR(Controller[GreedyState]):
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
        >>> from lrsched import GreedyLR
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
    per_group = True

    def __post_init__(self) -> None:
        o, put = self.owner, object.__setattr__
        put(self, "mode", choice(o, "mode", self.mode, ("min", "max")))
        put(self, "threshold_mode", choice(o, "threshold_mode", self.threshold_mode, ("rel", "abs")))
        put(self, "nonfinite", choice(o, "nonfinite", self.nonfinite, ("bad", "skip")))
        put(self, "factor", real_in(o, "factor", self.factor, low=0.0, high=1.0, low_open=True, high_open=True))
        rel = self.threshold_mode == "rel"
        put(
            self,
            "threshold",
            real_in(o, "threshold", self.threshold, low=0.0, high=1.0 if rel else None, high_open=rel),
        )
        put(self, "eps", real_in(o, "eps", self.eps, low=0.0))
        put(self, "min_lr", per_group(o, "min_lr", self.min_lr, lambda f, v: real_in(o, f, v, low=0.0)))
        put(self, "max_lr", per_group(o, "max_lr", self.max_lr, self._max_lr_entry))
        for field in ("patience", "cooldown", "warmup"):
            put(self, field, integer(o, field, getattr(self, field), 0, MAX_COUNT))
        put(self, "window", integer(o, "window", self.window, 1, MAX_WINDOW))
        if self.reset_start is not None:
            put(self, "reset_start", integer(o, "reset_start", self.reset_start, 1, MAX_COUNT))
        for field in ("increase", "track_best_during_wait"):
            flag(o, field, getattr(self, field))
        lengths = {len(v) for v in (self.init_lr, self.min_lr, self.max_lr) if isinstance(v, tuple)}
        if len(lengths) > 1:
            raise ValueError(
                f"{o}: per-group init_lr/min_lr/max_lr must have the same length, got lengths {sorted(lengths)}"
            )
        for i in range(self.groups or 1):
            lo, hi = self.lr_bounds(i)
            if hi is not None and hi < lo:
                raise ValueError(f"{o}: min_lr must be <= max_lr, got min_lr={self.min_lr!r} > max_lr={self.max_lr!r}")
        super().__post_init__()

    def _max_lr_entry(self, field: str, value: Any) -> float | None:
        """A cap: a number >= 0, or ``None`` (no cap) for the whole setting, not for one group's entry."""
        if field == "max_lr":
            return optional_real_in(self.owner, field, value, low=0.0)
        return real_in(self.owner, field, value, low=0.0)

    @property
    def groups(self) -> int:
        """Number of parameter groups set by tuples (0: one scalar LR)."""
        for v in (self.init_lr, self.min_lr, self.max_lr):
            if isinstance(v, tuple):
                return len(v)
        return 0

    @property
    def monitor_mode(self) -> str:
        return self.mode

    def lr_bounds(self, group: int) -> tuple[float, float | None]:
        """``[min_lr, max_lr]`` of group ``group`` (numbers broadcast over groups)."""
        lo, hi = self.min_lr, self.max_lr
        return (lo[group] if isinstance(lo, tuple) else lo), (hi[group] if isinstance(hi, tuple) else hi)

    def upgrade_state_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        """lrsched 0.1 wrote ``best`` as ``None`` before the first value; up to 0.3 the state had no ``total``
        (the window was summed afresh on every update): it is that sum of the values held."""
        if "best" in data and data["best"] is None:
            data = {**data, "best": "inf" if self.mode == "min" else "-inf"}
        if "total" not in data and isinstance(data.get("window"), list):
            slots = state_from_json(data["window"])
            data = {**data, "total": state_to_json(window_total(slots) if self.window > 1 else ())}
        return data

    # -- pure controller -----------------------------------------------------
    def initial_state(self, lr: Any) -> GreedyState:
        """The state before the first value (``lr``: a number, or one per group), in Python numbers."""
        return initial_state(self, lr)

    def rule(self, state: GreedyState, signals: dict[str, Any], xp: Namespace) -> GreedyState:
        """One update on ``signals["loss"]`` with ``xp``'s operations (``lrsched.greedy.core.update_state``)."""
        return update_state(self, state, signals["loss"], xp)

    def update(self, state: GreedyState, value: Any) -> GreedyState:  # type: ignore[override]
        """The state after observing ``value`` (a loss, or a metric with ``mode='max'``; or ``{"loss": value}``).

        ``value`` is a Python number, a NumPy array, a JAX array/tracer or a torch tensor (scalar; batch with
        ``jax.vmap``, or with NumPy arrays whose leading axis runs over controllers). A state of Python numbers
        reads NumPy and torch scalars with ``float()``; a state from ``init(like=tensor)`` stays on the tensor's
        device and is updated with tensor operations (no host sync), in the tensor's dtype.
        """
        return super().update(state, value)


def with_knobs(owner: str, settings: GreedyLR | None, knobs: dict[str, Any], field: str = "settings") -> GreedyLR:
    """The settings a caller asked for: ``settings`` with ``knobs`` replaced, or ``GreedyLR(**knobs)``.

    Unknown knobs raise a ``TypeError`` naming lrsched's equivalent of torch's and transformers' names.
    """
    check_knobs(owner, GreedyLR, knobs)
    if settings is None:
        return GreedyLR(**knobs)
    if not isinstance(settings, GreedyLR):
        raise TypeError(f"{owner}: {field} must be a GreedyLR, got {type(settings).__name__}")
    return dataclasses.replace(settings, **knobs) if knobs else settings
