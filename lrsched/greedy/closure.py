"""``GreedyScheduler``: the stateful GreedyLR closure, ``lr = sched(loss)``.

It is the generic controller closure (:class:`lrsched.controllers.closure.Control`): GreedyLR's rules
(``lrsched.greedy.core.update_state``) compiled once into straight-line Python with the settings folded in.
"""

from __future__ import annotations

from typing import Any

from lrsched.controllers.closure import Control
from lrsched.greedy.settings import GreedyLR

__all__ = ["GreedyScheduler"]


class GreedyScheduler(Control):
    """Stateful GreedyLR: call it with each monitored value, get the LR for the next step.

    Example:
        >>> from lrsched import GreedyLR, GreedyScheduler
        >>> sched = GreedyScheduler(GreedyLR(init_lr=0.1, patience=1, factor=0.5))
        >>> [sched(loss) for loss in (1.0, 1.0, 1.0, 0.5, 0.4)]
        [0.1, 0.1, 0.05, 0.05, 0.1]
    """

    controller: GreedyLR

    def __init__(self, settings: GreedyLR, lr: Any = None) -> None:
        if not isinstance(settings, GreedyLR):
            raise TypeError(f"GreedyScheduler: settings must be a GreedyLR, got {type(settings).__name__}")
        super().__init__(settings, lr)

    @property
    def settings(self) -> GreedyLR:
        return self.controller
