"""A controller on top of a schedule: ``lr_t = base(t) * g_t``, the controller acting from ``start_step``."""

from __future__ import annotations

import dataclasses
from typing import Any

from lrsched._core.backend import Namespace
from lrsched._core.config import _build
from lrsched._core.schedule import Schedule, as_schedule
from lrsched._core.validate import integer
from lrsched.controllers.protocol import Controller, apply, register_controller, select

__all__ = ["Controlled", "on_schedule"]


@register_controller("on_schedule")
@dataclasses.dataclass(frozen=True)
class Controlled(Controller):
    """Pure controller-over-a-schedule: ``lr(state) = base(state.step) * controller.lr(state)``.

    The controller's LR ``g_t`` is a multiplier: its initial value is the controller's ``init_lr``
    (``None`` -> 1.0) and its bounds (e.g. ``min_lr``/``max_lr``) bound the multiplier. ``state.step`` is the
    schedule's step ``t``, the index of the optimizer update whose value is observed next; a value observed at
    ``t < start_step`` is ignored (the multiplier keeps its value, only ``t`` advances). Adapters whose values do
    not arrive once per update (per epoch, per evaluation) set ``t`` with :meth:`at` before each value.

    Example:
        >>> import lrsched
        >>> on = lrsched.on_schedule(lrsched.constant(0.1), lrsched.GreedyLR(patience=0, factor=0.5), start_step=1)
        >>> s = on.init()
        >>> for loss in (5.0, 4.0, 4.5, 4.6):
        ...     s = on.update(s, loss)
        >>> on.lr(s)
        0.05
    """

    base: Any  # a Schedule (or number), or a tuple of them: one per parameter group
    controller: Controller
    start_step: int = 0

    def __post_init__(self) -> None:
        owner = self.name
        if isinstance(self.base, (list, tuple)):
            bases = tuple(as_schedule(b, owner=owner, field=f"base[{i}]") for i, b in enumerate(self.base))
            object.__setattr__(self, "base", bases)
        else:
            object.__setattr__(self, "base", as_schedule(self.base, owner=owner, field="base"))
        if not isinstance(self.controller, Controller):
            raise TypeError(f"{owner}: controller must be a Controller, got {type(self.controller).__name__}")
        if getattr(self.controller, "init_lr", 1.0) is None:
            object.__setattr__(self, "controller", dataclasses.replace(self.controller, init_lr=1.0))  # type: ignore
        object.__setattr__(self, "start_step", integer(owner, "start_step", self.start_step, 0))

    @property  # type: ignore[misc]
    def signals(self) -> tuple[str, ...]:  # type: ignore[override]
        return self.controller.signals

    @property  # type: ignore[misc]
    def vector_fields(self) -> frozenset[str]:  # type: ignore[override]
        return self.controller.vector_fields

    def init(self, lr: Any = None, *, like: Any = None) -> Any:
        """The controller's initial state (``lr``: the initial multiplier); ``state.step`` is ``t``."""
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
        if isinstance(self.base, tuple):
            return tuple(apply(b, state.step) * m for b, m in zip(self.base, g))
        base = apply(self.base, state.step)
        return tuple(base * m for m in g) if isinstance(g, tuple) else base * g

    @staticmethod
    def at(state: Any, t: Any) -> Any:
        """``state`` with the clock set to ``t`` (the index of the update whose value is observed next)."""
        return state._replace(step=t)

    def to_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "base": [b.to_config() for b in self.base] if isinstance(self.base, tuple) else self.base.to_config(),
            "controller": self.controller.to_config(),
            "start_step": self.start_step,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:

        unknown = sorted(set(config) - {"name", "base", "controller", "start_step"})
        if unknown:
            raise ValueError(f"config: unknown key(s) {', '.join(map(repr, unknown))} for {cls.name!r}")
        controller: Any = _build(config["controller"], "config.controller", 0)
        base: Any = config["base"]
        if isinstance(base, list):
            base = tuple(_build(b, f"config.base[{i}]", 1) for i, b in enumerate(base))
        else:
            base = _build(base, "config.base", 1)
        return cls(base, controller, config.get("start_step", 0))


def on_schedule(base: Schedule | float, controller: Controller, start_step: int = 0) -> Controlled:
    """``controller`` steering ``base``: ``lr_t = base(t) * g_t`` (see ``Controlled``).

    Example:
        >>> import lrsched
        >>> on = lrsched.on_schedule(lrsched.linear(0.0, 1e-3, 100), lrsched.GreedyLR(), start_step=100)
        >>> sched = lrsched.control(on)
        >>> round(sched(1.0), 9)
        1e-05
    """
    return Controlled(base, controller, start_step)
