"""Refuse, at construction, a controller that an adapter cannot drive (or cannot drive at the asked ``timing``): it
names what is missing."""

from __future__ import annotations

from typing import Any

from lrsched._core.validate import choice
from lrsched.controllers.protocol import TIMINGS

__all__ = ["checked_timing", "refuse_unserved"]

_HOW = {
    "lookahead": "it compares LRs by running training steps (explore(state, lookahead)); drive it from your own "
    "training loop, which can snapshot and restore the model (see lrsched.LRTuner)",
}


def refuse_unserved(owner: str, controller: Any, measured: frozenset[str], needs_served: frozenset[str]) -> None:
    """Raise ``ValueError`` when ``controller`` declares a signal outside ``measured`` or a need outside
    ``needs_served`` (the adapter would otherwise feed it a made-up value, or never call what it needs)."""
    missing = [s for s in controller.signals if s not in measured]
    if missing:
        raise ValueError(
            f"{owner}: {controller.owner} reads the signal(s) {', '.join(map(repr, missing))}, which {owner} cannot "
            f"measure (it measures {', '.join(sorted(measured))})"
        )
    for need in sorted(controller.needs - needs_served):
        raise ValueError(
            f"{owner}: {controller.owner} needs a {need!r} that {owner} cannot provide: {_HOW.get(need, '')}"
        )


def checked_timing(owner: str, controller: Any, timing: Any, *, loss_before_update: bool) -> str:
    """``timing``, one of :data:`lrsched.controllers.TIMINGS`. ``"paper"`` applies an update's own signals to it, so
    a controller reading the loss is refused where the adapter gets the loss only after the update
    (``loss_before_update=False``: torch's ``scheduler.step(loss)``)."""
    timing = choice(owner, "timing", timing, tuple(TIMINGS))
    if timing == "paper" and not loss_before_update and "loss" in controller.signals:
        raise ValueError(
            f"{owner}: timing='paper' applies the LR decided from an update's signals to that same update, so they "
            f"are read inside optimizer.step(); {controller.owner} reads the 'loss', which {owner} gets only after "
            "the update (scheduler.step(loss)). Use timing='next', or a controller that reads no loss "
            "(Hypergradient, ABEL)"
        )
    return timing
