"""PyTorch adapter: lrsched schedules and GreedyLR as ``torch.optim.lr_scheduler`` objects.

* :func:`schedule_lr` returns a real :class:`torch.optim.lr_scheduler.LambdaLR`
  (:class:`ScheduleLR`) whose param groups get the schedule's **absolute** value:
  after ``k`` calls of ``scheduler.step()``, ``group["lr"] == schedule(k)``.
  ``LambdaLR`` multiplies each group's ``initial_lr`` by what its lambda returns,
  so :func:`schedule_lr` sets every ``initial_lr`` to ``1.0`` (the ``lr`` the
  optimizer was built with is ignored). Its ``state_dict()`` holds only plain
  data (counters and the schedules' configs), so it survives
  ``torch.save`` -> ``torch.load(..., weights_only=True)``.

Example:
    >>> import torch, lrsched
    >>> from lrsched.adapters.torch import schedule_lr
    >>> model = torch.nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(model.parameters(), lr=0.0)
    >>> sched = lrsched.warmup(lrsched.cosine_decay(0.1, 90), warmup_steps=10)
    >>> scheduler = schedule_lr(opt, sched)
    >>> for _ in range(10):
    ...     opt.step()
    ...     scheduler.step()
    >>> opt.param_groups[0]["lr"] == sched(10)
    True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from lrsched.adapters._require import missing

from lrsched._core.schedule import Schedule, as_schedule

try:
    import torch
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LambdaLR
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise missing("torch", error) from error

from lrsched.adapters._torch_greedy import ControllerScheduler, GreedyLRScheduler

__all__ = ["ControllerScheduler", "GreedyLRScheduler", "ScheduleLR", "schedule_lr"]

ScheduleLike = Schedule | Callable[[Any], Any] | float


def _config_or_none(schedule: Schedule) -> dict[str, Any] | None:
    try:
        return schedule.to_config()
    except TypeError:  # a wrapped plain callable has no config
        return None


class ScheduleLR(LambdaLR):
    """A ``LambdaLR`` whose lambdas are lrsched schedules giving absolute learning rates.

    Build it with :func:`schedule_lr`. ``state_dict()`` stores the step counters
    and, under ``"schedules"``, each group's schedule config (``None`` for a
    plain callable); :meth:`load_state_dict` warns when those differ from the
    scheduler's own schedules and keeps its own, and sets each group's ``lr`` to
    the restored step's value.
    """

    lr_lambdas: list[Schedule]  # type: ignore[assignment]

    def get_lr(self) -> list[float | torch.Tensor]:
        """Each group's ``schedule(last_epoch)`` (``LambdaLR``'s, without the ``initial_lr`` factor of 1.0)."""
        if not self._get_lr_called_within_step:
            message = "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."
            warnings.warn(message, UserWarning, stacklevel=2)
        t, lambdas = self.last_epoch, self.lr_lambdas
        if len(lambdas) == 1:
            return [lambdas[0](t)]
        return [s(t) for s in lambdas]

    def state_dict(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None] * len(self.lr_lambdas)
        state["schedules"] = [_config_or_none(s) for s in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("schedules", None)
        if saved is not None and saved != [_config_or_none(s) for s in self.lr_lambdas]:
            warnings.warn(
                "ScheduleLR.load_state_dict: the checkpoint was saved with different schedules; "
                "keeping this scheduler's schedules and restoring only its step counters",
                UserWarning,
                stacklevel=2,
            )
        state["lr_lambdas"] = [None] * len(self.lr_lambdas)
        super().load_state_dict(state)
        # The groups get the restored step's LR even if the optimizer's state is not loaded.
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


def schedule_lr(
    optimizer: Optimizer,
    schedule: ScheduleLike | Sequence[ScheduleLike],
    last_epoch: int = -1,
) -> ScheduleLR:
    """A ``LambdaLR`` setting each param group's lr to ``schedule(step)`` (absolute, not a factor).

    Args:
        optimizer: the wrapped optimizer; its groups' ``initial_lr`` become ``1.0``.
        schedule: one lrsched schedule (or number, or callable) for every group,
            or a list/tuple with one per param group.
        last_epoch: as in ``LambdaLR``; ``-1`` starts at step 0.

    Returns:
        a :class:`ScheduleLR`; call ``scheduler.step()`` after each ``optimizer.step()``.
    """
    groups = optimizer.param_groups
    if isinstance(schedule, (list, tuple)):
        if len(schedule) != len(groups):
            raise ValueError(
                f"schedule_lr: schedule must be one schedule or one per param group "
                f"({len(groups)}), got {len(schedule)} schedules"
            )
        schedules = [as_schedule(s, owner="schedule_lr", field=f"schedule[{i}]") for i, s in enumerate(schedule)]
    else:
        schedules = [as_schedule(schedule, owner="schedule_lr")] * len(groups)
    for group in groups:
        group["initial_lr"] = 1.0
    return ScheduleLR(optimizer, lr_lambda=list[Callable[[int], float]](schedules), last_epoch=last_epoch)
