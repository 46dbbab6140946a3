"""``LearnedLR``: the learned controller as a frozen value -- its weights and settings, validated, with its rule.

See :mod:`lrsched.controllers.learned` for the features, the policy and the base schedule.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, ClassVar

from lrsched._core.backend import Namespace
from lrsched._core.validate import MAX_COUNT, integer, real_array, real_in, sequence, shown
from lrsched.controllers.learned.features import FEATURE_SCALES, FEATURES
from lrsched.controllers.learned.rule import LearnedState, initial_state, policy_step
from lrsched.controllers.learned.shipped import shipped_config
from lrsched.controllers.protocol import Controller, register_controller

__all__ = ["LearnedLR", "MAX_HIDDEN"]

#: The most hidden units a policy may have.
MAX_HIDDEN = 4096


@register_controller("learned")
@dataclasses.dataclass(frozen=True, kw_only=True)
class LearnedLR(Controller[LearnedState]):
    """A learned LR controller: a tiny MLP on features of the loss signal (see the module docstring).

    Args:
        w1: hidden-layer weights, ``hidden`` rows of ``len(features)`` numbers.
        b1: hidden biases (``hidden`` numbers).
        w2: output weights (``hidden`` numbers).
        b2: output bias.
        features: the input features, names from ``FEATURES`` (order = columns of ``w1``).
        max_change: the largest change of ``log lr`` over 1% of the run (per update: ``max_change * 100 / H``).
        min_scale, max_scale: the LR stays in ``[lr0 * min_scale, lr0 * max_scale]``.
        init_lr: the initial LR ``lr0`` (or pass ``init(lr=...)``).
        budget: the number of updates of the run, if known (the ``budget`` feature); ``None``: unknown.
        default_horizon: the time scale ``H`` (in updates) assumed when no budget is known.
        warmup, anneal: the base schedule's linear warmup and final linear anneal to 0, as fractions of a
            known budget (0: none; ``warmup + anneal <= 1``); see the module docstring.

    Use :meth:`default` for the shipped policy and ``lrsched.learn.train`` to train your own.
    """

    w1: tuple[tuple[float, ...], ...]
    b1: tuple[float, ...]
    w2: tuple[float, ...]
    b2: float
    features: tuple[str, ...] = FEATURES
    max_change: float = 0.1
    min_scale: float = 1e-4
    max_scale: float = 100.0
    init_lr: float | None = None
    budget: int | None = None
    default_horizon: int = 1000
    warmup: float = 0.0
    anneal: float = 0.0

    positive_lr: ClassVar[bool] = True  # the policy works with log(lr / lr0)

    def __post_init__(self) -> None:
        o, put = self.owner, object.__setattr__
        feats = sequence(o, "features", self.features)
        for i, f in enumerate(feats):
            if not isinstance(f, str):
                raise TypeError(f"{o}: features[{i}] must be a feature name (a string), got {shown(f)}")
        unknown = [f for f in feats if f not in FEATURE_SCALES]
        if unknown:
            raise ValueError(
                f"{o}: unknown feature name(s) {', '.join(map(shown, unknown))}; known: {', '.join(FEATURES)}"
            )
        if len(set(feats)) != len(feats) or not feats:
            raise ValueError(f"{o}: features must be distinct and non-empty, got {shown(feats)}")
        put(self, "features", feats)
        b1 = self.b1.tolist() if hasattr(self.b1, "tolist") else self.b1
        if not isinstance(b1, (list, tuple)) or not 1 <= len(b1) <= MAX_HIDDEN:
            raise ValueError(f"{o}: b1 must hold one bias per hidden unit (1 to {MAX_HIDDEN}), got {shown(b1)}")
        hidden = len(b1)
        put(self, "w1", real_array(o, "w1", self.w1, (hidden, len(feats))))
        put(self, "b1", real_array(o, "b1", b1, (hidden,)))
        put(self, "w2", real_array(o, "w2", self.w2, (hidden,)))
        put(self, "b2", real_array(o, "b2", self.b2, ()))
        for name in ("max_change", "min_scale", "max_scale"):
            put(self, name, real_in(o, name, getattr(self, name), low=0.0, low_open=True))
        if not self.min_scale <= 1.0 <= self.max_scale:
            raise ValueError(
                f"{o}: need min_scale <= 1 <= max_scale, got min_scale={self.min_scale!r}, max_scale={self.max_scale!r}"
            )
        if self.budget is not None:
            put(self, "budget", integer(o, "budget", self.budget, 1, MAX_COUNT))
        put(self, "default_horizon", integer(o, "default_horizon", self.default_horizon, 1, MAX_COUNT))
        for name in ("warmup", "anneal"):
            put(self, name, real_in(o, name, getattr(self, name), low=0.0, high=1.0, high_open=True))
        if self.warmup + self.anneal > 1.0:
            raise ValueError(f"{o}: need warmup + anneal <= 1, got warmup={self.warmup!r}, anneal={self.anneal!r}")
        super().__post_init__()

    # -- construction ------------------------------------------------------------
    @classmethod
    def default(cls, **overrides: Any) -> LearnedLR:
        """The shipped policy (``lrsched/controllers/policies/default.json``), with ``overrides`` applied."""
        policy = cls.from_config(shipped_config())
        return dataclasses.replace(policy, **overrides) if overrides else policy  # type: ignore[return-value,type-var]

    @property
    def hidden(self) -> int:
        return len(self.b1)

    @property
    def net(self) -> tuple[Any, Any, Any, Any]:
        return self.w1, self.b1, self.w2, self.b2

    @property
    def log_bounds(self) -> tuple[float, float]:
        return math.log(self.min_scale), math.log(self.max_scale)

    # -- pure controller ---------------------------------------------------------
    def initial_state(self, lr: Any) -> LearnedState:
        """The state before the first loss (``lr`` may be a scalar array: a traced starting LR)."""
        return initial_state(lr, self.budget or self.default_horizon, self.budget is not None, self.schedule)

    def upgrade_state_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        """Version 0.2 wrote ``loss0 = 0.0`` before the first finite loss (the state at step 0); now it is NaN."""
        return {**data, "loss0": "nan"} if data.get("step") == 0 else data

    def rule(self, state: LearnedState, signals: dict[str, Any], xp: Namespace) -> LearnedState:
        """One policy step on the loss (the protocol's ``update`` reads the signal and picks ``xp``)."""
        return policy_step(
            state, signals["loss"], self.net, self.features, self.max_change, self.log_bounds, xp, self.schedule
        )

    @property
    def schedule(self) -> tuple[float, float]:
        """``(warmup, anneal)`` of the base schedule."""
        return self.warmup, self.anneal
