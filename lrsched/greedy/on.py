"""GreedyLR on top of a schedule: ``lr_t = base(t) * g_t``, the controller acting from ``start_step``.

See :mod:`lrsched.greedy` for the semantics.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lrsched._core.backend import PYTHON, namespace_for
from lrsched._core.schedule import Schedule, as_schedule
from lrsched.greedy.closure import GreedyScheduler
from lrsched.greedy.core import GreedyState, select_state
from lrsched.greedy.settings import GreedyLR

__all__ = ["GreedyOn", "GreedyOnScheduler"]


def _multiplier(controller: GreedyLR) -> GreedyLR:
    return controller if controller.init_lr is not None else dataclasses.replace(controller, init_lr=1.0)


@dataclasses.dataclass(frozen=True)
class GreedyOn:
    """Pure GreedyLR-over-a-schedule: ``lr(state) = base(state.step) * state.lr``.

    ``controller.init_lr`` is the initial multiplier (``None`` -> 1.0) and its
    ``min_lr``/``max_lr`` bound the multiplier. Values observed at steps
    ``t < start_step`` are ignored (the multiplier keeps its initial value).

    Example:
        >>> from lrsched import GreedyLR, constant
        >>> on = GreedyOn(constant(0.1), GreedyLR(patience=0, factor=0.5), start_step=1)
        >>> s = on.init()
        >>> for loss in (5.0, 4.0, 4.5, 4.6):
        ...     s = on.update(s, loss)
        >>> on.lr(s)
        0.05
    """

    base: Schedule
    controller: GreedyLR = dataclasses.field(default_factory=GreedyLR)
    start_step: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", as_schedule(self.base, owner="greedy_on", field="base"))
        if not isinstance(self.controller, GreedyLR):
            raise TypeError(f"greedy_on: controller must be a GreedyLR, got {type(self.controller).__name__}")
        object.__setattr__(self, "controller", _multiplier(self.controller))
        start = self.start_step
        if not isinstance(start, int) or isinstance(start, bool) or start < 0:
            raise ValueError(f"greedy_on: start_step must be an integer >= 0, got {start!r}")

    def init(self, *, like: Any = None) -> GreedyState:
        """The controller's initial state (``state.step`` is the schedule's step ``t``)."""
        return self.controller.init(like=like)

    def update(self, state: GreedyState, value: Any) -> GreedyState:
        """Feed ``value`` (observed at step ``state.step``) to the controller once ``t >= start_step``."""
        new = self.controller.update(state, value)
        xp = PYTHON if type(state.step) is int else namespace_for(new.step)
        acting = state.step >= self.start_step
        return select_state(acting, new, state._replace(step=new.step), xp)

    def lr(self, state: GreedyState) -> Any:
        """The LR for step ``state.step``: ``base(t) * g_t`` (a tuple per parameter group)."""
        base = self.base(state.step)
        if isinstance(state.lr, tuple):
            return tuple(base * m for m in state.lr)
        return base * state.lr

    def to_config(self) -> dict[str, Any]:
        """A JSON-serializable dict; :func:`lrsched.from_config` rebuilds an equal ``GreedyOn``."""
        return {
            "name": "greedy_on",
            "base": self.base.to_config(),
            "controller": self.controller.to_config(),
            "start_step": self.start_step,
        }


class GreedyOnScheduler:
    """Stateful :class:`GreedyOn`: ``lr = sched(loss)`` gives the LR of the next step.

    Example:
        >>> from lrsched import GreedyLR, constant
        >>> sched = GreedyOnScheduler(GreedyOn(constant(0.1), GreedyLR(patience=0, factor=0.5)))
        >>> sched.lr, sched(5.0), sched(6.0)
        (0.1, 0.2, 0.1)
    """

    def __init__(self, settings: GreedyOn) -> None:
        if not isinstance(settings, GreedyOn):
            raise TypeError(f"GreedyOnScheduler: settings must be a GreedyOn, got {type(settings).__name__}")
        self.settings = settings
        self.multiplier = GreedyScheduler(settings.controller)

    def __call__(self, value: Any) -> Any:
        """Observe the value of the current step; return the LR of the next step."""
        g = self.multiplier
        if g._step >= self.settings.start_step:
            g(value)
        else:
            g._step += 1
        return self.lr

    step = __call__

    @property
    def t(self) -> int:
        """The current step (number of values observed)."""
        return self.multiplier._step

    @property
    def lr(self) -> Any:
        """The LR of the current step, ``base(t) * g_t``."""
        return self.settings.lr(self.multiplier.state) if self.multiplier._groups else self._scalar_lr()

    def _scalar_lr(self) -> float:
        g = self.multiplier
        return float(self.settings.base(g._step)) * g._lr

    @property
    def state(self) -> GreedyState:
        return self.multiplier.state

    def load_state(self, state: GreedyState) -> None:
        self.multiplier.load_state(state)

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON data (the multiplier's state; ``step`` is ``t``)."""
        return self.multiplier.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.multiplier.load_state_dict(state_dict)

    def to_config(self) -> dict[str, Any]:
        return self.settings.to_config()

    def __repr__(self) -> str:
        return f"GreedyOnScheduler({self.settings!r}, lr={self.lr!r}, step={self.t})"
