"""A controller on top of a schedule: ``lr_t = base(t) * g_t``, the controller acting from ``start_step``."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from lrsched._core.backend import Namespace, namespace_for
from lrsched._core.schedule import Schedule, as_schedule
from lrsched._core.validate import MAX_COUNT, MAX_GROUPS, integer
from lrsched.controllers.ops import apply, select
from lrsched.controllers.protocol import LR, Controller, register_controller

__all__ = ["Controlled", "MAX_NESTING", "on_schedule"]

#: How many ``on_schedule`` may wrap each other (``on_schedule(b1, on_schedule(b2, ...))``).
MAX_NESTING = 16


def _nesting(controller: Controller[Any]) -> int:
    return 1 + _nesting(controller.controller) if isinstance(controller, Controlled) else 0


@register_controller("on_schedule")
@dataclasses.dataclass(frozen=True)
class Controlled(Controller[NamedTuple]):
    """Pure controller-over-a-schedule: ``lr(state) = base(state.step) * controller.lr(state)``.

    The controller's LR ``g_t`` is a multiplier: its initial value is the controller's ``init_lr``
    (``None`` -> 1.0) and its bounds (e.g. ``min_lr``/``max_lr``) bound the multiplier. ``state.step`` is the
    schedule's step ``t``, the index of the optimizer update whose value is observed next; a value observed at
    ``t < start_step`` is ignored (the multiplier keeps its value, only ``t`` advances). Adapters whose values do
    not arrive once per update (per epoch, per evaluation) set ``t`` with :meth:`at` before each value.
    The base is evaluated in the state's dtype (a float64 torch state: float64).

    Example:
        >>> import lrsched
        >>> on = lrsched.on_schedule(lrsched.constant(0.1), lrsched.GreedyLR(patience=0, factor=0.5), start_step=1)
        >>> s = on.init()
        >>> for loss in (5.0, 4.0, 4.5, 4.6):
        ...     s = on.update(s, loss)
        >>> on.lr(s)
        0.05
    """

    base: Schedule | float | tuple[Schedule | float, ...]  # one schedule (or number), or one per parameter group
    controller: Controller[Any]
    start_step: int = 0

    def __post_init__(self) -> None:
        owner = self.name
        if isinstance(self.base, (list, tuple)):
            if not 1 <= len(self.base) <= MAX_GROUPS:
                raise ValueError(
                    f"{owner}: base must hold 1 to MAX_GROUPS = {MAX_GROUPS} schedules, got {len(self.base)}"
                )
            bases = tuple(as_schedule(b, owner=owner, field=f"base[{i}]") for i, b in enumerate(self.base))
            object.__setattr__(self, "base", bases)
        else:
            object.__setattr__(self, "base", as_schedule(self.base, owner=owner, field="base"))
        if not isinstance(self.controller, Controller):
            raise TypeError(f"{owner}: controller must be a Controller, got {type(self.controller).__name__}")
        if isinstance(self.base, tuple) and self.controller.groups not in (0, len(self.base)):
            raise ValueError(
                f"{owner}: base holds {len(self.base)} schedules (one per group), the controller "
                f"{self.controller.groups} per-group values (init_lr, min_lr, max_lr); give both one per group"
            )
        if _nesting(self.controller) >= MAX_NESTING:
            raise ValueError(f"{owner}: controller nests on_schedule more than MAX_NESTING = {MAX_NESTING} levels deep")
        has_field = dataclasses.is_dataclass(self.controller) and "init_lr" in {
            f.name for f in dataclasses.fields(self.controller)
        }
        if self.controller.init_lr is None and has_field:  # the multiplier starts at 1
            object.__setattr__(self, "controller", dataclasses.replace(self.controller, init_lr=1.0))  # type: ignore
        object.__setattr__(self, "start_step", integer(owner, "start_step", self.start_step, 0, MAX_COUNT))

    # The controller's declarations, read by adapters (the multiplier's initial value is ``init_lr``).
    @property  # type: ignore[misc]
    def signals(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.controller.signals

    @property  # type: ignore[misc]
    def vector_fields(self) -> frozenset[str]:  # type: ignore[override]
        return self.controller.vector_fields

    @property  # type: ignore[misc]
    def needs(self) -> frozenset[str]:  # type: ignore[override]
        return self.controller.needs

    @property
    def signal_interval(self) -> int:  # the state (and its clock) is the controller's: its interval applies
        return self.controller.signal_interval

    @property  # type: ignore[misc]
    def init_lr(self) -> Any:  # type: ignore[override]
        return 1.0 if self.controller.init_lr is None else self.controller.init_lr

    @property
    def groups(self) -> int:
        return self.controller.groups

    @property
    def per_group(self) -> bool:  # type: ignore[override]
        return self.controller.per_group

    @property
    def monitor_mode(self) -> str:
        return self.controller.monitor_mode

    def upgrade_state_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        """The state is the controller's: its upgrades apply."""
        return self.controller.upgrade_state_dict(data)

    def init(self, lr: LR | None = None, *, like: Any = None) -> Any:
        """The controller's initial state (``lr``: the initial multiplier, default 1); ``state.step`` is ``t``."""
        if lr is None and self.controller.init_lr is None:
            lr = 1.0
        return self.controller.init(lr, like=like)

    def rule(self, state: Any, signals: dict[str, Any], xp: Namespace) -> Any:
        """The controller's update once ``t >= start_step``; before, only ``t`` advances."""
        if type(self.controller).rule is Controller.rule:  # a controller written as update()
            new = self.controller.update(state, signals)
        else:
            new = self.controller.rule(state, signals, xp)
        if self.start_step == 0:
            return new
        return select(state.step >= self.start_step, new, state._replace(step=new.step), xp, self.vector_fields)

    def lr(self, state: Any) -> Any:
        """The LR of update ``t = state.step``: ``base(t) * g_t`` (a tuple per parameter group)."""
        g = self.controller.lr(state)
        t = state.step
        if type(t) is not int and hasattr(t, "dtype"):  # an array clock: the base in the multiplier's dtype
            like = g[0] if isinstance(g, tuple) else g
            t = namespace_for(t).as_float(t, like)
        bases: Any = self.base  # schedules: __post_init__ made every number one
        if isinstance(bases, tuple):
            gs = g if isinstance(g, tuple) else (g,) * len(bases)  # one multiplier for every group's base
            return tuple(apply(b, t) * m for b, m in zip(bases, gs))
        base = apply(bases, t)
        return tuple(base * m for m in g) if isinstance(g, tuple) else base * g

    @staticmethod
    def at(state: Any, t: Any) -> Any:
        """``state`` with the clock set to ``t`` (the index of the update whose value is observed next)."""
        return state._replace(step=t)


def lr_applied_at_once(controller: Controller[Any], observed: Any, t: Any) -> Any:
    """The LR update ``t`` applies under ``timing="paper"`` (:data:`lrsched.controllers.TIMINGS`): the controller's
    LR once it has observed update ``t``'s signals (``observed``, whose clock reads ``t + 1``); a base-driven
    controller keeps the update's own clock, ``base(t) * g_{t+1}``, so a warmup does not skip its first value."""
    if isinstance(controller, Controlled):
        return controller.lr(Controlled.at(observed, t))
    return controller.lr(observed)


def on_schedule(base: Schedule | float, controller: Controller[Any], start_step: int = 0) -> Controlled:
    """``controller`` steering ``base``: ``lr_t = base(t) * g_t`` (see ``Controlled``).

    Example:
        >>> import lrsched
        >>> on = lrsched.on_schedule(lrsched.linear(0.0, 1e-3, 100), lrsched.GreedyLR(), start_step=100)
        >>> sched = lrsched.control(on)
        >>> round(sched(1.0), 9)
        1e-05
    """
    return Controlled(base, controller, start_step)
