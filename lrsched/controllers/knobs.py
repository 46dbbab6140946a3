"""Keyword checks for controllers: a ``TypeError`` that names lrsched's equivalent of a torch/transformers name."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["FOREIGN_NAMES", "check_knobs"]

#: torch / transformers / Keras keyword -> what to use in lrsched instead
FOREIGN_NAMES: dict[str, str] = {
    "window_size": "use `window=`; smoothing is on when window > 1",
    "smooth": "smoothing is on when `window=` > 1 (e.g. window=10)",
    "verbose": "controllers do not print; read the LR from `.lr` (torch: `scheduler.get_last_lr()`)",
    "T_max": "a cosine schedule is lrsched.cosine_decay(init_value, decay_steps=T_max), given as `base=`",
    "eta_min": "use `min_lr=`",
    "min_lrs": "use `min_lr=` (a tuple holds one value per parameter group)",
    "max_lrs": "use `max_lr=` (a tuple holds one value per parameter group)",
    "lr": "use `init_lr=`",
    "initial_lr": "use `init_lr=`",
    "last_epoch": "restore a run with `load_state_dict()`",
    "min_delta": "use `threshold=` with `threshold_mode='abs'`",
    "min_scale": "use `min_lr=` (the bound of the multiplier)",
    "rtol": "use `threshold=` with `threshold_mode='rel'`",
    "atol": "use `threshold=` with `threshold_mode='abs'`",
    "accumulation_size": "use `window=`",
}


def check_knobs(owner: str, cls: type, knobs: dict[str, Any]) -> None:
    """Raise a ``TypeError`` for keywords that are not fields of the dataclass ``cls``."""
    fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in knobs:
        if key not in fields:
            hint = FOREIGN_NAMES.get(key, f"valid keywords: {', '.join(sorted(fields))}")
            raise TypeError(f"{owner}: unexpected keyword argument `{key}=`: {hint}")
