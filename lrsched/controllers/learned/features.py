"""The learned controller's inputs: features of the loss signal, each with the constant it is scaled by.

Every feature is computed in log-loss space (independent of the loss's scale), relative to the initial LR ``lr0``
and in units of the run's length ``H`` (see :mod:`lrsched.controllers.learned` for the table).
"""

from __future__ import annotations

from typing import Any

from lrsched._core.backend import Namespace

__all__ = ["FEATURES", "FEATURE_SCALES", "RATES", "features_of"]

#: Feature name -> the constant it is multiplied by before entering the network.
FEATURE_SCALES: dict[str, float] = {
    "log_lr": 1.0 / 3.0,
    "slope_fast": 3.0,
    "slope_slow": 3.0,
    "rel_start": 1.0 / 3.0,
    "rel_best": 3.0,
    "noise": 3.0,
    "budget": 1.0,
    "has_budget": 1.0,
    "lr_change": 1.0,
}
FEATURES: tuple[str, ...] = tuple(FEATURE_SCALES)
#: EMA rates per step of the fast, mid and slow log-loss averages, times the horizon ``H``.
RATES = (25.0, 6.4, 1.6)


def features_of(state: Any, xp: Namespace) -> dict[str, Any]:
    """Every feature (unscaled) of a ``LearnedState`` whose EMAs hold the latest loss."""
    frac = xp.minimum(state.step / state.horizon, 1.0)
    return {
        "log_lr": xp.log(state.ctl / state.lr0),
        "slope_fast": state.fast - state.mid,
        "slope_slow": state.mid - state.slow,
        "rel_start": state.mid - state.loss0,
        "rel_best": state.fast - state.best,
        "noise": xp.sqrt(state.var),
        "budget": frac * state.known,
        "has_budget": state.known,
        "lr_change": state.dlr,
    }
