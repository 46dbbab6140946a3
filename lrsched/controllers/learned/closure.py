"""``lrsched.learned()``: the learned controller as a stateful closure, like :func:`lrsched.greedy`."""

from __future__ import annotations

import dataclasses
from typing import Any

from lrsched.controllers.closure import Control, control
from lrsched.controllers.learned.policy import LearnedLR
from lrsched.controllers.protocol import LR

__all__ = ["learned"]


def learned(policy: LearnedLR | None = None, lr: LR | None = None, **overrides: Any) -> Control:
    """The shipped learned controller (or ``policy``) as a stateful closure, like :func:`lrsched.greedy`.

    ``overrides`` replace settings, e.g. ``budget=total_steps`` (recommended: the policy anneals toward
    the end of a known budget). Example: ``sched = lrsched.learned(lr=3e-4, budget=10_000)``, then
    ``lr = sched(loss)`` after each step.
    """
    ctrl = LearnedLR.default() if policy is None else policy
    if overrides:
        ctrl = dataclasses.replace(ctrl, **overrides)
    return control(ctrl, lr)
