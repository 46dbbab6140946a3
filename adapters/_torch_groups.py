"""Per-group learning-rate rules shared by the torch adapters (``schedule_lr``, ``GreedyLRScheduler(base=...)``).

* :func:`group_schedules`: one schedule for every param group, or a list with one per group.
* :func:`resolve_mode`: ``"absolute"`` (``lr = schedule(t)``) or ``"relative"`` (``lr = initial_lr * schedule(t)``,
  the schedule a unitless multiplier as in ``LambdaLR``); ``None`` means absolute but raises ``ValueError`` when
  one schedule meets groups built with different LRs, which would silently get the same LR. Each group's
  ``initial_lr`` is set to its ``lr`` when absent and never overwritten, so torch's schedulers on the same
  optimizer keep scaling from the optimizer's own LR.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from torch.optim import Optimizer

from lrsched._core.schedule import Schedule, as_schedule

__all__ = ["MODES", "Mode", "group_schedules", "resolve_mode", "set_lr"]

Mode = Literal["absolute", "relative"]
MODES: tuple[str, ...] = ("absolute", "relative")


def group_schedules(owner: str, field: str, optimizer: Optimizer, schedule: Any) -> tuple[list[Schedule], bool]:
    """``(one schedule per param group, whether the caller gave one per group)``."""
    n = len(optimizer.param_groups)
    if isinstance(schedule, (list, tuple)):
        if len(schedule) != n:
            raise ValueError(
                f"{owner}: {field} must be one schedule or one per param group ({n}), got {len(schedule)} schedules"
            )
        return [as_schedule(s, owner=owner, field=f"{field}[{i}]") for i, s in enumerate(schedule)], True
    return [as_schedule(schedule, owner=owner, field=field)] * n, False


def resolve_mode(owner: str, field: str, optimizer: Optimizer, mode: str | None, per_group: bool) -> Mode:
    """The mode to use; sets missing ``initial_lr``s and guards one absolute schedule over different group LRs."""
    if mode is not None and mode not in MODES:
        raise ValueError(f"{owner}: mode must be 'absolute' or 'relative', got {mode!r}")
    for group in optimizer.param_groups:
        lr = group["lr"]
        group.setdefault("initial_lr", lr.clone() if isinstance(lr, torch.Tensor) else lr)
    lrs = sorted({float(g["initial_lr"]) for g in optimizer.param_groups})
    if mode is None and not per_group and len(lrs) > 1:
        raise ValueError(
            f"{owner}: the optimizer's param groups have different learning rates {lrs}, but one absolute "
            f"{field} would give every group the same LR. Pass mode='relative' (each group's LR times the "
            f"{field}, a unitless multiplier), mode='absolute' (every group gets {field}(step)), or one "
            f"{field} per group"
        )
    return "relative" if mode == "relative" else "absolute"


def set_lr(group: dict[str, Any], value: Any) -> None:
    """``group["lr"] = value``; a tensor LR (capturable / fused optimizers hold on to it) is written in place, a
    number with ``fill_`` (a kernel argument: no host-to-device copy, no wait for the device) and a tensor with
    ``copy_`` (on the device)."""
    lr = group["lr"]
    if not isinstance(lr, torch.Tensor):
        group["lr"] = value
    elif isinstance(value, torch.Tensor):
        lr.copy_(value)
    else:
        lr.fill_(value)
