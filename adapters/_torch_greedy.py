"""Any lrsched controller (GreedyLR among them) as a torch LR scheduler (re-exported by lrsched.adapters.torch)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import torch
import torch.distributed as dist
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from lrsched._core.schedule import Schedule
from lrsched._core.validate import integer
from lrsched.adapters._torch_device import DeviceState, measure
from lrsched.adapters._torch_groups import resolve_mode
from lrsched.controllers.closure import Control
from lrsched.controllers.on import Controlled
from lrsched.controllers.protocol import Controller

__all__ = ["ControllerScheduler"]


class ControllerScheduler(ReduceLROnPlateau):
    """A controller steering the optimizer's LRs: ``scheduler.step(loss)`` after ``optimizer.step()``.

    A subclass of ``ReduceLROnPlateau`` (itself an ``LRScheduler``), so trainers that pass the monitored value to
    plateau schedulers drive it (Lightning's ``lr_scheduler_config`` with a ``"monitor"``; the transformers
    ``Trainer`` with ``lr_scheduler_type="reduce_lr_on_plateau"``-style use calls ``step(metric)`` after each
    evaluation and needs ``metric_for_best_model`` set).

    * Without ``base``: the controller's LR is each group's LR (initially the controller's ``init_lr`` or, when
      that is ``None``, the groups' current ``lr``).
    * With ``base`` (one lrsched schedule, or one per group): ``lr_t = base(t) * g_t``
      (:func:`lrsched.on_schedule`), ``g`` the controller's LR used as a multiplier and ``t`` the number of
      optimizer updates so far (counted by an optimizer step hook; when ``optimizer.step()`` is never called,
      each ``step(value)`` counts as one update). A value observed at update ``t < start_step`` is ignored.
      ``mode`` as in ``schedule_lr``: ``"absolute"`` (every group ``base(t) * g_t``) or ``"relative"`` (each
      group's own LR times it); ``None`` raises when one base meets groups built with different LRs.
    * Signals: the controller's declared :data:`lrsched.controllers.SIGNALS` other than the loss are computed
      from the optimizer's parameters and gradients just before each ``optimizer.step()``.
    * Distributed: when ``torch.distributed`` is initialized the monitored value is averaged over all ranks
      (``reduce="mean"``); ``reduce=None`` opts out.
    * A tensor loss with tensor LRs (an optimizer built with a tensor ``lr``, e.g. ``capturable=True`` or
      ``fused=True``; loss-only controllers) keeps the controller's state on the loss's device (float64),
      updates it with tensor operations and writes the LRs in place: no ``.item()``, no host sync. The LR
      sequence is the one a float loss gives. With float LRs the loss is read with ``float()``.

    ``state_dict()`` is plain data (safe for ``torch.load(weights_only=True)``).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        controller: Controller,
        *,
        base: Schedule | float | Sequence[Schedule | float] | None = None,
        start_step: int = 0,
        mode: str | None = None,
        reduce: str | None = "mean",
        process_group: Any = None,
    ) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: optimizer must be a torch Optimizer, got {type(optimizer).__name__}")
        if not isinstance(controller, Controller):
            raise TypeError(f"{name}: controller must be a Controller, got {type(controller).__name__}")
        if reduce not in ("mean", None):
            raise ValueError(f"{name}: reduce must be 'mean' or None, got {reduce!r}")
        groups = optimizer.param_groups
        n = len(groups)
        per_group = getattr(controller, "groups", 0)
        if per_group not in (0, n):
            raise ValueError(f"{name}: the controller holds {per_group} per-group values, the optimizer {n}")
        if isinstance(base, (list, tuple)) and len(base) != n:
            raise ValueError(f"{name}: base must be one schedule or one per param group ({n}), got {len(base)}")
        self.optimizer, self.settings = optimizer, controller
        self.start_step = integer(name, "start_step", start_step, 0)
        self.reduce, self.process_group = reduce, process_group
        lr: Any = getattr(controller, "init_lr", None)  # None: the groups' LRs, or a multiplier of 1.0 with a base
        lr = (1.0 if base is not None else tuple(float(g["lr"]) for g in groups)) if lr is None else lr
        if isinstance(lr, tuple) and n == 1:
            lr = lr[0]
        elif n > 1 and not isinstance(lr, tuple):
            lr = (lr,) * n
        self.controlled: Controller = controller if base is None else Controlled(base, controller, start_step)  # type: ignore[arg-type]
        # With a base, "absolute": lr = base(t) * g_t; "relative": lr = initial_lr * base(t) * g_t (as schedule_lr)
        self.lr_mode = (
            None if base is None else resolve_mode(name, "base", optimizer, mode, isinstance(base, (list, tuple)))
        )
        self._scales = [float(g["initial_lr"]) if self.lr_mode == "relative" else 1.0 for g in groups]
        self.sched = Control(self.controlled, lr)
        self.mode = getattr(controller, "mode", "min")
        self.last_epoch = self._observed_at = 0  # optimizer updates so far (ReduceLROnPlateau's name)
        self._signals: dict[str, Any] = {}  # the signals of the next value; _prev: (theta, lr) of the previous update
        self._prev: Any = None
        self._wanted = tuple(s for s in controller.signals if s != "loss")
        self._device: DeviceState | None = None  # the state on the loss's device (tensor losses)
        self._hooks = [optimizer.register_step_post_hook(self._after_update)]
        self._hooks += [optimizer.register_step_pre_hook(self._before_update)] if self._wanted else []
        self._apply(self.sched.lr)

    # -- hooks ---------------------------------------------------------------------------------------------------
    def _before_update(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        """Measure the declared signals at theta_t, before update t."""
        params = [p for g in optimizer.param_groups for p in g["params"]]
        self._signals, self._prev = measure(self._wanted, params, self._prev, optimizer)

    def _after_update(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        self.last_epoch += 1
        if isinstance(self.controlled, Controlled):  # follow the base schedule update by update
            if self._device is not None:
                self._apply(self._device.lr(self.last_epoch))
            else:
                self._apply(self.controlled.lr(self.controlled.at(self.sched.state, self.last_epoch)))

    # -- the controller ----------------------------------------------------------------------------------------
    def _apply(self, lr: Any) -> None:
        lrs = list(lr) if isinstance(lr, tuple) else [lr] * len(self.optimizer.param_groups)
        lrs = [x * scale if scale != 1.0 else x for x, scale in zip(lrs, self._scales)]
        for group, value in zip(self.optimizer.param_groups, lrs):
            if isinstance(group["lr"], torch.Tensor):  # tensor LRs (capturable / fused optimizers): in place
                group["lr"].copy_(torch.as_tensor(value, dtype=group["lr"].dtype))
            else:
                group["lr"] = value
        self._last_lr = [x if isinstance(x, torch.Tensor) else float(x) for x in lrs]

    def _reduce_value(self, value: float) -> float:
        if self.reduce is None or not (dist.is_available() and dist.is_initialized()):
            return value
        group = self.process_group
        device = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(group) == "nccl" else "cpu"
        total = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
        return float(total.item()) / dist.get_world_size(group)

    def _reduce_tensor(self, value: torch.Tensor) -> torch.Tensor:
        value = value.detach().to(torch.float64).reshape(())
        if self.reduce is None or not (dist.is_available() and dist.is_initialized()):
            return value
        dist.all_reduce(total := value.clone(), op=dist.ReduceOp.SUM, group=self.process_group)
        return total / dist.get_world_size(self.process_group)

    def _sync(self) -> None:
        """Bring the device state back to the host closure (at a checkpoint or a float value: syncs once)."""
        if self._device is not None:
            self.sched.load_state(self._device.state)
            self._device = None

    def step(self, metrics: Any = None, epoch: None = None) -> None:  # type: ignore[override]
        """Observe the monitored value of the update just taken and set the next update's LRs."""
        name = type(self).__name__
        if metrics is None:
            raise TypeError(f"{name}.step: pass the monitored value, e.g. scheduler.step(loss)")
        if epoch is not None:
            raise TypeError(f"{name}.step: the epoch argument is not supported")
        self.last_epoch += self.last_epoch == self._observed_at  # no optimizer.step() since the last value: count it
        tensor_lrs = all(isinstance(g["lr"], torch.Tensor) for g in self.optimizer.param_groups)
        if isinstance(metrics, torch.Tensor) and tensor_lrs and not self._wanted:  # on the device: no host sync
            self._observed_at = self.last_epoch
            if self._device is None:
                self._device = DeviceState(self.controlled, self.sched.state, metrics)
            self._device.update(self._reduce_tensor(metrics), self.last_epoch - 1)
            self._apply(self._device.lr())
            return
        self._sync()
        value = self._reduce_value(float(metrics.detach() if isinstance(metrics, torch.Tensor) else metrics))
        on_base = isinstance(self.controlled, Controlled)
        if on_base and self.sched.t != self.last_epoch - 1:  # values arrive per evaluation: move the clock
            self.sched.set_step(self.last_epoch - 1)
        self._observed_at = self.last_epoch
        signals = self._signals or {k: 0.0 for k in self._wanted}
        self._apply(self.sched(value, **signals) if self._wanted else self.sched(value))

    @property
    def lr(self) -> Any:
        """The controller's LR (a multiplier when ``base`` is set; a tuple per group)."""
        self._sync()
        return (
            self.controlled.controller.lr(self.sched.state)
            if isinstance(self.controlled, Controlled)
            else self.sched.lr
        )

    def state_dict(self) -> dict[str, Any]:
        """Plain data: the update count, the last LRs, the controller's state and settings."""
        self._sync()
        return {
            "last_epoch": self.last_epoch,
            "_last_lr": [float(x) for x in self._last_lr],
            "greedy": self.sched.state_dict(),
            "settings": self.settings.to_config(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore ``state_dict``; the groups get the restored LRs."""
        if state_dict.get("settings") != self.settings.to_config():
            warnings.warn(
                f"{type(self).__name__}.load_state_dict: the checkpoint was saved with different settings; "
                "keeping this scheduler's settings",
                UserWarning,
                stacklevel=2,
            )
        self._device = None
        self.sched.load_state_dict(state_dict["greedy"])
        self.last_epoch = self._observed_at = int(state_dict["last_epoch"])
        self._apply(self.sched.lr)

    # ReduceLROnPlateau attributes some trainers read.
    @property
    def best(self) -> float:  # type: ignore[override]
        self._sync()
        return float(getattr(self.sched.state, "best", float("nan")))

    @property
    def num_bad_epochs(self) -> int:  # type: ignore[override]
        self._sync()
        return int(getattr(self.sched.state, "bad", 0))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings!r}, lr={self.lr!r}, step={self.last_epoch})"
