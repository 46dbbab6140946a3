"""Gap-aware LR for adversarial nets (Hazimeh & Ponomareva, "Mind the (optimality) Gap", arXiv 2302.00089).

The discriminator's (adversary's) LR is its base LR times a function of the gap between its loss and the loss of
an ideal discriminator at equilibrium (generated distribution = data distribution), a constant known in advance.
With ``V_t`` an exponential moving average of the discriminator loss (``V_t = a V_{t-1} + (1 - a) loss_t``,
``V_{-1} = ideal_loss``, ``a = ema_decay``) and the gap ``x = |V_t - ideal_loss|``:

* ``V_t > ideal_loss`` (the discriminator is losing): ``s = min(f_max ** (x / x_max), f_max)`` -- up to ``f_max``;
* otherwise (it is winning): ``s = max(h_min ** (x / x_min), h_min)`` -- down to ``h_min``;

and ``lr_t = base_lr * s``. The paper's settings: ``h_min = 0.1``, ``f_max = 2``, ``x_min = x_max = 0.1 * ideal``.

Ideal discriminator losses (``IDEAL_LOSSES``; the optimal discriminator of a matched GAN outputs
``D = 1/2`` (probability) or the critic value 0 everywhere, so its loss is the loss evaluated there):

=================  ==========================================================================  =============
name               discriminator loss                                                           ideal value
=================  ==========================================================================  =============
``"bce"``          ``BCE(D(x), 1) + BCE(D(G(z)), 0)`` (standard / non-saturating GAN; sum)       ``log 4 = 1.386``
``"bce_mean"``     the same loss averaged over real and fake halves                             ``log 2 = 0.693``
``"lsgan"``        ``E[(D(x) - 1)^2] + E[D(G(z))^2]`` (least squares, labels 1/0)               ``0.5``
``"hinge"``        ``E[max(0, 1 - D(x))] + E[max(0, 1 + D(G(z)))]``                              ``2.0``
``"wasserstein"``  ``E[D(G(z))] - E[D(x)]`` (critic)                                            ``0.0``
=================  ==========================================================================  =============

An LSGAN loss with factors 1/2 in front of each term has ideal value 0.25; scale ``ideal_loss`` with the loss.
With ``ideal_loss = 0`` give ``x_min``/``x_max`` explicitly (their default is ``0.1 * ideal_loss``).

Units: one ``update`` per discriminator update; the signal is that update's ``"loss"``. NaN/inf losses are skipped.

Example:
    >>> from lrsched.controllers.gap_aware import IDEAL_LOSSES
    >>> from lrsched import GapAware
    >>> gap = GapAware(init_lr=1e-3, ideal_loss=IDEAL_LOSSES["bce"], ema_decay=0.0)
    >>> s = gap.update(gap.init(), 3.0)      # far above the ideal: the LR doubles (f_max)
    >>> round(s.lr, 6)
    0.002
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

from lrsched._core.backend import Namespace
from lrsched._core.validate import optional_real_in, real_in
from lrsched.controllers.ops import finite_or
from lrsched.controllers.protocol import Controller, register_controller

__all__ = ["GapAware", "GapAwareState", "IDEAL_LOSSES", "gap_scale"]

IDEAL_LOSSES: dict[str, float] = {
    "bce": math.log(4.0),
    "bce_mean": math.log(2.0),
    "lsgan": 0.5,
    "hinge": 2.0,
    "wasserstein": 0.0,
}


class GapAwareState(NamedTuple):
    lr: Any  #: the discriminator LR of the next update (base_lr * scale)
    step: Any  #: updates seen
    ema: Any  #: moving average of the discriminator loss
    base_lr: Any  #: the base LR the scale multiplies


def gap_scale(
    loss: Any, ideal_loss: float, x_min: float, x_max: float, h_min: float, f_max: float, xp: Any = None
) -> Any:
    """The paper's scaling function ``s(loss)`` in ``[h_min, f_max]`` (written once; ``xp`` defaults to Python)."""
    if xp is None:
        from lrsched._core.backend import PYTHON as xp
    gap = xp.maximum(loss - ideal_loss, ideal_loss - loss)
    up = xp.minimum(xp.exp(math.log(f_max) * gap / x_max), f_max)
    down = xp.maximum(xp.exp(math.log(h_min) * gap / x_min), h_min)
    return xp.where(loss > ideal_loss, up, down)


@register_controller("gap_aware")
@dataclasses.dataclass(frozen=True, kw_only=True)
class GapAware(Controller[GapAwareState]):
    """The gap-aware scheduler (module docstring) on the discriminator's ``"loss"``.

    Args:
        init_lr: the base LR (or ``init(lr=...)``).
        ideal_loss: the ideal discriminator loss (see ``IDEAL_LOSSES``; default ``log 4``).
        x_min, x_max: gaps at which the scale reaches ``h_min`` / ``f_max`` (> 0; default ``0.1 * ideal_loss``).
        h_min: smallest scale, in (0, 1]. f_max: largest scale, >= 1.
        ema_decay: moving-average factor ``a`` in [0, 1) (0: the raw loss).
    """

    init_lr: float | None = None
    ideal_loss: float = math.log(4.0)
    x_min: float | None = None
    x_max: float | None = None
    h_min: float = 0.1
    f_max: float = 2.0
    ema_decay: float = 0.95

    def __post_init__(self) -> None:
        o, put = self.owner, object.__setattr__
        put(self, "ideal_loss", real_in(o, "ideal_loss", self.ideal_loss))
        for field in ("x_min", "x_max"):
            value = getattr(self, field)
            if value is None:
                if self.ideal_loss <= 0:
                    raise ValueError(
                        f"{o}: {field} must be given (> 0) when ideal_loss <= 0, got ideal_loss={self.ideal_loss!r}"
                    )
            put(self, field, optional_real_in(o, field, value, low=0.0, low_open=True))
        put(self, "h_min", real_in(o, "h_min", self.h_min, low=0.0, high=1.0, low_open=True))
        put(self, "f_max", real_in(o, "f_max", self.f_max, low=1.0))
        put(self, "ema_decay", real_in(o, "ema_decay", self.ema_decay, low=0.0, high=1.0, high_open=True))
        super().__post_init__()

    @property
    def gaps(self) -> tuple[float, float]:
        """``(x_min, x_max)`` with their defaults resolved."""
        default = 0.1 * self.ideal_loss
        return (default if self.x_min is None else self.x_min, default if self.x_max is None else self.x_max)

    def scale(self, loss: Any, xp: Any = None) -> Any:
        """The scale ``s`` for a (smoothed) discriminator loss."""
        x_min, x_max = self.gaps
        return gap_scale(loss, self.ideal_loss, x_min, x_max, self.h_min, self.f_max, xp)

    def initial_state(self, lr: Any) -> GapAwareState:
        return GapAwareState(lr, 0, self.ideal_loss, lr)

    def rule(self, state: GapAwareState, s: dict[str, Any], xp: Namespace) -> GapAwareState:
        loss, finite = finite_or(s["loss"], state.ema, xp)
        a = self.ema_decay
        ema = xp.where(finite, a * state.ema + (1.0 - a) * loss, state.ema)
        return GapAwareState(state.base_lr * self.scale(ema, xp), state.step + 1, ema, state.base_lr)
