"""GreedyLR on top of a schedule: ``lr_t = base(t) * g_t`` (the generic :class:`~lrsched.controllers.on.Controlled`).

See :mod:`lrsched.greedy` for the semantics.
"""

from __future__ import annotations

import dataclasses

from lrsched.controllers.closure import Control
from lrsched.controllers.on import Controlled
from lrsched.controllers.protocol import register_controller
from lrsched.greedy.settings import GreedyLR

__all__ = ["GreedyOn", "GreedyOnScheduler"]


@register_controller("greedy_on")
@dataclasses.dataclass(frozen=True)
class GreedyOn(Controlled):
    """Pure GreedyLR-over-a-schedule: ``lr(state) = base(state.step) * state.lr``.

    ``controller.init_lr`` is the initial multiplier (``None`` -> 1.0) and its
    ``min_lr``/``max_lr`` bound the multiplier. Values observed at steps
    ``t < start_step`` are ignored (the multiplier keeps its initial value).

    Example:
        >>> from lrsched import constant, GreedyLR, GreedyOn
        >>> on = GreedyOn(constant(0.1), GreedyLR(patience=0, factor=0.5), start_step=1)
        >>> s = on.init()
        >>> for loss in (5.0, 4.0, 4.5, 4.6):
        ...     s = on.update(s, loss)
        >>> on.lr(s)
        0.05
    """

    controller: GreedyLR = dataclasses.field(default_factory=GreedyLR)

    def __post_init__(self) -> None:
        if not isinstance(self.controller, GreedyLR):
            raise TypeError(f"greedy_on: controller must be a GreedyLR, got {type(self.controller).__name__}")
        super().__post_init__()


class GreedyOnScheduler(Control):
    """Stateful :class:`GreedyOn`: ``lr = sched(loss)`` gives the LR of the next step.

    Example:
        >>> from lrsched import constant, GreedyLR, GreedyOn, GreedyOnScheduler
        >>> sched = GreedyOnScheduler(GreedyOn(constant(0.1), GreedyLR(patience=0, factor=0.5)))
        >>> sched.lr, sched(5.0), sched(6.0)
        (0.1, 0.2, 0.1)
    """

    controller: GreedyOn

    def __init__(self, settings: GreedyOn) -> None:
        if not isinstance(settings, GreedyOn):
            raise TypeError(f"GreedyOnScheduler: settings must be a GreedyOn, got {type(settings).__name__}")
        super().__init__(settings)

    @property
    def settings(self) -> GreedyOn:
        return self.controller
