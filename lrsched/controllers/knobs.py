"""Keyword checks for controllers: a ``TypeError`` that names lrsched's equivalent of a torch/transformers name.

A hint is shown only when the class has the keyword it points to (``ABEL(window_size=5)`` lists ABEL's keywords
instead of suggesting a ``window=`` that ABEL does not have).
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

__all__ = ["FOREIGN_NAMES", "check_knobs"]

#: torch / transformers / Keras keyword -> (the lrsched keyword it maps to, or None for general advice; the hint)
FOREIGN_NAMES: dict[str, tuple[str | None, str]] = {
    "window_size": ("window", "use `window=`; smoothing is on when window > 1"),
    "smooth": ("window", "smoothing is on when `window=` > 1 (e.g. window=10)"),
    "verbose": (None, "controllers do not print; read the LR from `.lr` (torch: `scheduler.get_last_lr()`)"),
    "T_max": (
        None,
        "a cosine schedule is lrsched.cosine_decay(init_value, decay_steps=T_max); steer one with "
        "lrsched.on_schedule(schedule, controller)",
    ),
    "eta_min": ("min_lr", "use `min_lr=`"),
    "min_lrs": ("min_lr", "use `min_lr=` (a tuple holds one value per parameter group)"),
    "max_lrs": ("max_lr", "use `max_lr=` (a tuple holds one value per parameter group)"),
    "lr": ("init_lr", "use `init_lr=`"),
    "initial_lr": ("init_lr", "use `init_lr=`"),
    "last_epoch": (None, "restore a run with `load_state_dict()`"),
    "min_delta": ("threshold", "use `threshold=` with `threshold_mode='abs'`"),
    "min_scale": ("min_lr", "use `min_lr=` (the bound of the multiplier)"),
    "rtol": ("threshold", "use `threshold=` with `threshold_mode='rel'`"),
    "atol": ("threshold", "use `threshold=` with `threshold_mode='abs'`"),
    "accumulation_size": ("window", "use `window=`"),
    "decay_factor": ("factor", "use `factor=`"),
    "gamma": ("factor", "use `factor=`"),
    "hypergrad_lr": ("beta", "use `beta=` (the hypergradient step size)"),
    "total_iters": ("total_steps", "use `total_steps=`"),
}


def check_knobs(owner: str, cls: type, knobs: dict[str, Any]) -> None:
    """Raise a ``TypeError`` for keywords that are not fields of the dataclass ``cls``."""
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in knobs:
        if key in fields:
            continue
        target, hint = FOREIGN_NAMES.get(str(key), (None, ""))
        if not hint or (target is not None and target not in fields):
            close = difflib.get_close_matches(str(key), fields, n=1)
            did_you_mean = f"did you mean `{close[0]}=`? " if close else ""
            hint = f"{did_you_mean}valid keywords: {', '.join(sorted(fields))}"
        raise TypeError(f"{owner}: unexpected keyword argument `{str(key)[:40]}=`: {hint}")
