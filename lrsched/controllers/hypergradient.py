"""Hypergradient descent (Baydin et al., "Online Learning Rate Adaptation with Hypergradient Descent", ICLR 2018).

The LR follows the gradient of the loss with respect to the LR. With ``d_{t-1} = (theta_t - theta_{t-1}) / lr_{t-1}``
the previous update per unit LR, ``d f(theta_t) / d lr_{t-1} = g_t . d_{t-1} =: h_t`` (the signal
``"grad_dot_prev_direction"``), and

* additive (the paper's rule):      ``lr_t = lr_{t-1} - beta * h_t``
* multiplicative (the paper's normalised variant):
  ``lr_t = lr_{t-1} * (1 - beta * h_t / (||g_t|| ||d_{t-1}|| + eps))``

then clipped to ``[min_lr, max_lr]`` where those are set. By default neither is (``min_lr=None``,
``max_lr=None``): the paper's rule, unclipped. The additive LR may then become 0 or negative, as in the paper (a
negative LR steps uphill; the next hypergradient pushes it back up); ``min_lr=0.0`` (0.2's default) keeps it at or
above 0 instead. The multiplicative LR keeps its sign, since ``|h_t| <= ||g_t|| ||d_{t-1}||`` and ``beta < 1``.

How the paper's variants map onto the one rule (only the adapter's ``d`` differs):

* SGD-HD: ``d_{t-1} = -g_{t-1}``, so ``lr_t = lr_{t-1} + beta * g_t . g_{t-1}``.
* SGDN-HD (Nesterov momentum mu, ``v_t = mu v_{t-1} + g_t``): ``d_{t-1} = -(g_{t-1} + mu v_{t-1})``.
* Adam-HD: ``d_{t-1} = -m_hat_{t-1} / (sqrt(v_hat_{t-1}) + eps)``.

Timing: in the paper the new LR already drives the update that used ``g_t`` (compute ``h_t``, update the LR, then
step). A loop that calls ``update`` before its optimizer step reproduces that exactly, as do Optax's
``controlled(..., timing="paper")`` and torch's ``ControllerScheduler(..., timing="paper")``; the adapters'
default (``timing="next"``: Optax ``controlled``, torch's ``scheduler.step()`` after ``optimizer.step()``, Keras)
applies each change one update later: update ``t`` steps with ``lr_{t-1}`` (:data:`lrsched.controllers.TIMINGS`).
``d_{-1} = 0``, so ``h_0 = 0``.

Weight decay: ``g_t`` is the gradient the optimizer applies. The torch adapter adds an SGD's or Adam's coupled
``weight_decay * theta_t`` to it, as the authors do (AdamW's decoupled decay is part of the direction instead); in
Optax put ``optax.add_decayed_weights`` before ``controlled`` in a chain, so the gradients it sees include it.

Cost: the signal is one dot product over the parameters (and two norms for the multiplicative rule), read from
the previous direction. Where the optimizer keeps that direction (an Optax transformation's update,
``lrsched.adapters.torch.DirectionAdam``, torch's SGD with momentum) it costs what a hand-fused Adam-HD costs; on
``torch.optim.Adam`` the torch adapter reads it from the parameters' change, one or two extra passes over the
parameters per update (``benchmarks/results/controllers.md``).

Units: one ``update`` per optimizer update. ``beta`` has units of LR**2 / loss (additive) or is dimensionless
(multiplicative). NaN/inf signals leave the LR unchanged.

Example:
    >>> from lrsched import Hypergradient
    >>> hd = Hypergradient(init_lr=0.1, beta=0.01)
    >>> s = hd.update(hd.init(), {"grad_dot_prev_direction": -2.0})
    >>> round(s.lr, 6)
    0.12
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

from lrsched._core.backend import Namespace
from lrsched._core.validate import choice, optional_real_in, real_in
from lrsched.controllers.ops import finite_or
from lrsched.controllers.protocol import Controller, register_controller

__all__ = ["Hypergradient", "HypergradientState"]


class HypergradientState(NamedTuple):
    lr: Any  #: the LR of the next update
    step: Any  #: updates seen


@register_controller("hypergradient")
@dataclasses.dataclass(frozen=True, kw_only=True)
class Hypergradient(Controller[HypergradientState]):
    """Hypergradient descent on the LR (see the module docstring for the formulas and the paper's variants).

    Args:
        init_lr: initial LR (or pass ``lr=`` to ``init``).
        beta: hypergradient step size (> 0); the paper uses e.g. 1e-3 (SGD) and 1e-7 (Adam) for its nets.
        mode: 'additive' (signals: grad_dot_prev_direction) or 'multiplicative' (also grad_norm and
            prev_direction_norm; then ``beta`` in (0, 1) bounds the relative change per step).
        min_lr, max_lr: bounds of the LR (``None``: none, the default -- the paper's rule; the additive LR may
            then reach 0 or go negative, see the module docstring; ``min_lr=0.0`` keeps it >= 0).
        eps: added to the norm product in the multiplicative rule.
    """

    init_lr: float | None = None
    beta: float = 1e-3
    mode: str = "additive"
    min_lr: float | None = None
    max_lr: float | None = None
    eps: float = 0.0

    def __post_init__(self) -> None:
        o, put = self.owner, object.__setattr__
        put(self, "mode", choice(o, "mode", self.mode, ("additive", "multiplicative")))
        high = 1.0 if self.mode == "multiplicative" else None
        put(self, "beta", real_in(o, "beta", self.beta, low=0.0, low_open=True, high=high, high_open=True))
        put(self, "min_lr", optional_real_in(o, "min_lr", self.min_lr, low=0.0))
        put(self, "max_lr", optional_real_in(o, "max_lr", self.max_lr, low=0.0 if self.min_lr is None else self.min_lr))
        put(self, "eps", real_in(o, "eps", self.eps, low=0.0))
        super().__post_init__()

    @property  # the declared signals depend on the mode
    def signals(self) -> tuple[str, ...]:  # type: ignore[override]
        if self.mode == "additive":
            return ("grad_dot_prev_direction",)
        return ("grad_dot_prev_direction", "grad_norm", "prev_direction_norm")

    def lr_bounds(self, group: int) -> tuple[float, float | None]:
        return 0.0 if self.min_lr is None else self.min_lr, self.max_lr  # an initial LR is >= 0 (the rule's may not)

    def initial_state(self, lr: Any) -> HypergradientState:
        return HypergradientState(lr, 0)

    def rule(self, state: HypergradientState, s: dict[str, Any], xp: Namespace) -> HypergradientState:
        h = s["grad_dot_prev_direction"]
        if self.mode == "additive":
            new = state.lr - self.beta * h
        else:
            norms = s["grad_norm"] * s["prev_direction_norm"]
            scale = xp.where(norms + self.eps > 0, norms + self.eps, 1.0)  # h = 0 when a norm is 0 (t = 0): factor 1
            new = state.lr * (1.0 - self.beta * h / scale)
            new = new + 0.0 * norms  # a NaN/inf norm makes the new LR non-finite: the LR is kept
        new, _ = finite_or(new, state.lr, xp)
        if self.min_lr is not None:
            new = xp.maximum(new, self.min_lr)
        if self.max_lr is not None:
            new = xp.minimum(new, self.max_lr)
        return HypergradientState(new, state.step + 1)
