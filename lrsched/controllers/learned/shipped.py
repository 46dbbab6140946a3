"""The shipped learned policy (``policies/default.json``) and the stateful ``learned()`` closure."""

from __future__ import annotations

import dataclasses
import json
from importlib import resources
from typing import Any

from lrsched.controllers.closure import Control, control
from lrsched.controllers.learned.policy import LearnedLR
from lrsched.controllers.protocol import LR

__all__ = ["default_policy", "learned"]


def default_policy(**overrides: Any) -> LearnedLR:
    """The shipped policy (``lrsched/controllers/policies/default.json``), with ``overrides`` applied."""
    text = resources.files("lrsched.controllers").joinpath("policies/default.json").read_text(encoding="utf-8")
    policy = LearnedLR.from_config(json.loads(text)["config"])
    return dataclasses.replace(policy, **overrides) if overrides else policy  # type: ignore[return-value]


def learned(policy: LearnedLR | None = None, lr: LR | None = None, **overrides: Any) -> Control:
    """The shipped learned controller (or ``policy``) as a stateful closure, like :func:`lrsched.greedy`.

    ``overrides`` replace settings, e.g. ``budget=total_steps`` (recommended: the policy anneals toward
    the end of a known budget). Example: ``sched = lrsched.learned(lr=3e-4, budget=10_000)``, then
    ``lr = sched(loss)`` after each step.
    """
    ctrl = default_policy() if policy is None else policy
    if overrides:
        ctrl = dataclasses.replace(ctrl, **overrides)
    return control(ctrl, lr)
