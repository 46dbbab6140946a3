"""Any lrsched controller as a torch LR scheduler, ``ControllerScheduler`` (re-exported by lrsched.adapters.torch)."""

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
from lrsched.adapters._torch_device import MEASURED, DeviceState, HeldDirection, measure, retarget, unread
from lrsched.adapters._torch_groups import MODES, resolve_mode, set_lr
from lrsched.adapters._unserved import checked_timing, refuse_unserved
from lrsched.controllers.closure import Control
from lrsched.controllers.on import Controlled, lr_applied_at_once
from lrsched.controllers.protocol import Controller

__all__ = ["ControllerScheduler"]


class ControllerScheduler(ReduceLROnPlateau):
    """A controller steering the optimizer's LRs: ``scheduler.step(loss)`` after ``optimizer.step()``.

    A subclass of ``ReduceLROnPlateau`` (itself an ``LRScheduler``), so trainers that pass the monitored value to
    plateau schedulers drive it (Lightning's ``lr_scheduler_config`` with a ``"monitor"``; the transformers
    ``Trainer`` with ``lr_scheduler_type="reduce_lr_on_plateau"``-style use calls ``step(metric)`` after each
    evaluation and needs ``metric_for_best_model`` set).

    * Without ``base``: the controller's LR is each group's LR, initially the controller's ``init_lr`` or, when
      that is ``None``, the groups' own ``lr``. A controller with one LR (all but GreedyLR's per-group tuples)
      drives every group when the groups share one LR (decay / no-decay splits); groups built with different LRs
      raise ``ValueError`` unless ``lr_mode="relative"`` (the controller's LR, starting at 1, multiplies each
      group's own LR) or ``lr_mode="absolute"`` (every group gets the controller's LR). GreedyLR with one
      ``init_lr`` over different group LRs raises too (it would equalise them silently).
    * With ``base`` (one lrsched schedule, or one per group): ``lr_t = base(t) * g_t``
      (:func:`lrsched.on_schedule`), ``g`` the controller's LR used as a multiplier (initially its ``init_lr``, or
      1). A value observed at update ``t < start_step`` is ignored. ``lr_mode`` as ``schedule_lr``'s ``mode``:
      ``"absolute"`` (every group ``base(t) * g_t``) or ``"relative"`` (each group's own LR times it); ``None``
      raises when one base meets groups built with different LRs. Between values the groups follow ``base``
      update by update: the LR of update ``t`` is written as update ``t`` begins (a pre-step hook), so right
      after ``optimizer.step()`` the groups still hold the LR that update applied, as a torch scheduler's do
      before its ``step()``: the transformers ``Trainer``, which logs a plateau scheduler's
      ``param_groups[0]["lr"]`` right after ``optimizer.step()``, logs what it logs for the ``LambdaLR`` of
      ``base`` (the LR each update applied). Reading through the scheduler, ``scheduler.optimizer`` (Lightning's
      ``LearningRateMonitor``), first brings the groups to the coming update's LR; the optimizer's own groups read
      before ``optimizer.step()`` (a Trainer callback's ``on_step_begin``) hold the previous update's LR on the
      updates that no ``step(value)`` follows.
    * Time: every controller's clock (``state.step``) counts optimizer updates (an optimizer step hook), not
      ``step(value)`` calls, so a trainer that passes a value per evaluation or epoch keeps budgets, intervals
      and schedules in updates; when ``optimizer.step()`` is never called, each ``step(value)`` counts as one.
    * Signals: the controller's declared :data:`lrsched.controllers.SIGNALS` other than the loss are measured
      from the optimizer's parameters and gradients at each ``optimizer.step()`` -- with
      ``optimizer.step(closure)`` (Lightning) right after the closure computed the gradient -- on the updates
      where the rule reads them (``Controller.signal_interval``, e.g. ABEL's ``interval``; NaN on the others).
      A controller that reads a signal this scheduler cannot measure, or needs a look-ahead (``LRTuner``), is
      refused at construction.
    * ``timing`` (:data:`lrsched.controllers.TIMINGS`, one definition with Optax's): ``"next"`` (the default)
      applies what ``step(value)`` decides after update ``t`` from update ``t + 1`` on. ``"paper"`` (the order of
      Baydin et al.'s algorithms): inside ``optimizer.step()``, once the signals are measured, the controller
      observes them and that update applies its new LR; ``step(value)`` is then optional and its value unread.
      Only for controllers that read no loss (Hypergradient, ABEL): the loss arrives after the update, so a
      controller reading it is refused at construction.
    * ``torch.compile``: the optimizer hooks are kept out of the trace (``torch.compiler.disable``), so a
      compiled ``optimizer.step()`` with a tensor LR compiles once, as under ``schedule_lr``.
    * Distributed: when ``torch.distributed`` is initialized the monitored value is averaged over all ranks
      (``reduce="mean"``); ``reduce=None`` opts out.
    * A tensor loss with tensor LRs (an optimizer built with a tensor ``lr``, e.g. ``capturable=True`` or
      ``fused=True``; loss-only controllers) keeps the controller's state on the loss's device (float64),
      updates it with tensor operations and writes the LRs in place: no ``.item()``, no host sync. The LR
      sequence is the one a float loss gives. With float LRs the loss is read with ``float()``.

    ``state_dict()`` is plain data and tensors (safe for ``torch.load(weights_only=True)``): the controller's state
    under ``"controller"`` (``"greedy"`` in 0.2 checkpoints, still loaded) and, for direction signals, the
    previous parameters (or, where the optimizer holds the direction, the previous LRs), so a resumed run
    continues exactly.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        controller: Controller[Any],
        *,
        base: Schedule | float | Sequence[Schedule | float] | None = None,
        start_step: int = 0,
        lr_mode: str | None = None,
        reduce: str | None = "mean",
        process_group: Any = None,
        mode: str | None = None,
        timing: str = "next",
    ) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: optimizer must be a torch Optimizer, got {type(optimizer).__name__}")
        if not isinstance(controller, Controller):
            raise TypeError(f"{name}: controller must be a Controller, got {type(controller).__name__}")
        if mode is not None:  # the 0.2 name; ``self.mode`` is ReduceLROnPlateau's 'min'/'max'
            warnings.warn(f"{name}: mode= is now lr_mode=", DeprecationWarning, stacklevel=2)
            lr_mode = mode if lr_mode is None else lr_mode
        if reduce not in ("mean", None):
            raise ValueError(f"{name}: reduce must be 'mean' or None, got {reduce!r}")
        if lr_mode not in (None, *MODES):
            raise ValueError(f"{name}: lr_mode must be 'absolute' or 'relative', got {lr_mode!r}")
        refuse_unserved(name, controller, MEASURED, needs_served=frozenset())
        self.timing = checked_timing(name, controller, timing, loss_before_update=False)
        groups = optimizer.param_groups
        n = len(groups)
        if controller.groups not in (0, n):
            raise ValueError(
                f"{name}: the controller holds {controller.groups} per-group values, the optimizer has {n} param groups"
            )
        if isinstance(base, (list, tuple)) and len(base) != n:
            raise ValueError(f"{name}: base must be one schedule or one per param group ({n}), got {len(base)}")
        self._optimizer, self.settings = optimizer, controller
        self.start_step = integer(name, "start_step", start_step, 0)
        self.reduce, self.process_group = reduce, process_group
        if base is None and lr_mode == "relative":  # the controller's LR multiplies each group's own LR
            base = 1.0
        self.controlled: Controller[Any] = controller if base is None else Controlled(base, controller, start_step)  # type: ignore[arg-type]
        if base is None:
            lr = self._initial_lr(name, controller, [float(g["lr"]) for g in groups], lr_mode)
            self.lr_mode = None
        else:  # lr = base(t) * g_t ("absolute") or initial_lr * base(t) * g_t ("relative"), as schedule_lr
            lr = None  # the multiplier: the controller's init_lr, or 1.0
            self.lr_mode = resolve_mode(name, "base", optimizer, lr_mode, isinstance(base, (list, tuple)))
        self._scales = [float(g["initial_lr"]) if self.lr_mode == "relative" else 1.0 for g in groups]
        self.sched = Control(self.controlled, lr)
        self.mode = controller.monitor_mode  # ReduceLROnPlateau's attribute: 'min' or 'max'
        self.last_epoch = self._observed_at = 0  # optimizer updates so far (ReduceLROnPlateau's name)
        self._signals: dict[str, Any] = {}  # the signals of the next value; _prev: (theta, lr) of the previous update
        self._prev: Any = None
        self._wanted = tuple(s for s in controller.signals if s != "loss")
        self._device: DeviceState | None = None  # the state on the loss's device (tensor losses)
        self._lr_at = 0  # the update whose LR the groups hold
        self._follows = isinstance(self.controlled, Controlled) and self.timing == "next"
        self._measures = bool(self._wanted) or self.timing == "paper"
        self._hooks = [optimizer.register_step_pre_hook(self._pre_step)] if self._follows or self._measures else []
        self._hooks.append(optimizer.register_step_post_hook(self._after_update))
        self._apply(self.sched.lr)

    @staticmethod
    def _initial_lr(name: str, controller: Controller[Any], group_lrs: list[float], lr_mode: str | None) -> Any:
        """The controller's initial LR when it sets the groups' LRs itself (no base)."""
        n, lr, differ = len(group_lrs), controller.init_lr, len(set(group_lrs)) > 1
        if lr is None:
            if controller.per_group and n > 1:
                return tuple(group_lrs)  # each group starts at its own LR
            if differ and lr_mode != "absolute":
                raise ValueError(
                    f"{name}: the optimizer's param groups have different learning rates {sorted(set(group_lrs))}, "
                    f"but {controller.owner} steers one LR for all groups. Pass lr_mode='relative' (the controller's "
                    "LR, starting at 1.0, multiplies each group's own LR), or lr_mode='absolute' with init_lr set"
                )
            lr = group_lrs[0]
        elif differ and lr_mode is None and not isinstance(lr, tuple):
            raise ValueError(
                f"{name}: the optimizer's param groups have different learning rates {sorted(set(group_lrs))}, but "
                f"init_lr={lr!r} would give every group the same LR. Leave init_lr=None (each group starts at its "
                "own LR), pass one init_lr per group, lr_mode='relative', or lr_mode='absolute' to mean it"
            )
        if isinstance(lr, tuple) and n == 1:
            return lr[0]
        if controller.per_group and n > 1 and not isinstance(lr, tuple):
            return (lr,) * n
        return lr

    # -- hooks ---------------------------------------------------------------------------------------------------
    # The hooks run inside optimizer.step(): under torch.compile they are not traced (torch.compiler.disable), so the
    # host-side bookkeeping (update counts, the base schedule on Python ints) puts no guard on the compiled step.
    @torch.compiler.disable
    def _pre_step(self, optimizer: Optimizer, args: Any, kwargs: Any) -> Any:
        """Before update ``last_epoch``: the base schedule's LR of that update, then the signals (when measured)."""
        self._catch_up()
        return self._before_update(optimizer, args, kwargs) if self._measures else None

    def _catch_up(self) -> None:
        """Between values a base-driven controller follows its base: the groups get the LR of update
        ``last_epoch`` when it begins, or earlier when the scheduler's optimizer is asked for."""
        if self._lr_at != self.last_epoch and self._follows:
            self._lr_at = self.last_epoch
            self._apply(self._current_lr())

    def _measure(self) -> None:
        skipped = unread(self._wanted, self.controlled.signal_interval, self.last_epoch)  # NaN: not read there
        if skipped is not None:
            self._signals = skipped
            return
        self._signals, self._prev = measure(self._wanted, self._params(), self._prev, self._optimizer)

    def _before_update(self, optimizer: Optimizer, args: Any, kwargs: Any) -> Any:
        """Measure the declared signals at theta_t, before update t: now, or, under ``optimizer.step(closure)``
        (Lightning's way), right after the closure has computed g_t and before the optimizer applies it."""
        closure = kwargs.get("closure", args[1] if len(args) > 1 else None)  # args[0] is the optimizer
        if closure is None:
            self._measure()
            self._decide_now()
            return None

        def measured_closure() -> Any:
            with torch.enable_grad():
                loss = closure()
            self._measure()
            self._decide_now()
            return loss

        if "closure" in kwargs:
            return args, {**kwargs, "closure": measured_closure}
        return (args[0], measured_closure, *args[2:]), kwargs

    def _params(self) -> list[torch.Tensor]:
        """Every group's parameters, in order (the direction buffers and a checkpoint's ``theta`` follow it)."""
        return [p for g in self._optimizer.param_groups for p in g["params"]]

    def _decide_now(self) -> None:
        """``timing="paper"``: the controller observes this update's signals and the update applies its new LR."""
        if self.timing != "paper":
            return
        if self.sched.t != self.last_epoch:  # restored, or the first update
            self.sched.set_step(self.last_epoch)
        self.sched(**self._signals)
        self._apply(lr_applied_at_once(self.controlled, self.sched.state, self.last_epoch))
        if self._prev is not None:  # the direction buffers hold this update's LR, not the one measured
            self._prev = retarget(self._prev, self._params(), self._optimizer)

    @torch.compiler.disable
    def _after_update(self, optimizer: Optimizer, args: Any, kwargs: Any) -> None:
        self.last_epoch += 1

    @property
    def optimizer(self) -> Optimizer:
        """The wrapped optimizer, its groups holding the LR of the coming update (Lightning's
        ``LearningRateMonitor`` reads the LR through it before each update)."""
        self._catch_up()
        return self._optimizer

    @optimizer.setter
    def optimizer(self, optimizer: Optimizer) -> None:
        self._optimizer = optimizer

    # -- the controller ----------------------------------------------------------------------------------------
    def _current_lr(self) -> Any:
        """The LR of update ``last_epoch``: ``base(t) * g`` there for a base-driven controller under ``"next"``."""
        if not isinstance(self.controlled, Controlled) or self.timing == "paper":
            return self.sched.lr
        if self._device is not None:
            return self._device.lr(self.last_epoch)
        return self.controlled.lr(self.controlled.at(self.sched.state, self.last_epoch))

    def _apply(self, lr: Any) -> None:
        lrs = list(lr) if isinstance(lr, tuple) else [lr] * len(self._optimizer.param_groups)
        lrs = [x * scale if scale != 1.0 else x for x, scale in zip(lrs, self._scales)]
        for group, value in zip(self._optimizer.param_groups, lrs):
            set_lr(group, value)  # tensor LRs (capturable / fused optimizers): in place
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
        """Observe the monitored value of the update just taken and set the next update's LRs.

        Under ``timing="paper"`` the controller has already observed the update inside ``optimizer.step()``: the
        value (optional) is not read, so loops and trainers written for plateau schedulers run unchanged."""
        name = type(self).__name__
        if epoch is not None:
            raise TypeError(f"{name}.step: the epoch argument is not supported")
        if self.timing == "paper":
            return
        if metrics is None:
            raise TypeError(f"{name}.step: pass the monitored value, e.g. scheduler.step(loss)")
        self.last_epoch += self.last_epoch == self._observed_at  # no optimizer.step() since the last value: count it
        tensor_lrs = all(isinstance(g["lr"], torch.Tensor) for g in self._optimizer.param_groups)
        if isinstance(metrics, torch.Tensor) and tensor_lrs and not self._wanted:  # on the device: no host sync
            self._observed_at = self._lr_at = self.last_epoch
            if self._device is None:
                self._device = DeviceState(self.controlled, self.sched.state, metrics)
            self._device.update(self._reduce_tensor(metrics), self.last_epoch - 1)
            self._apply(self._device.lr())
            return
        self._sync()
        value = self._reduce_value(float(metrics.detach() if isinstance(metrics, torch.Tensor) else metrics))
        if self.sched.t != self.last_epoch - 1:  # values arrive per evaluation or epoch: the clock counts updates
            self.sched.set_step(self.last_epoch - 1)
        self._observed_at = self._lr_at = self.last_epoch
        if self._wanted and not self._signals:
            raise RuntimeError(
                f"{type(self).__name__}.step: {self.settings.owner} reads {', '.join(self._wanted)}, measured at "
                "optimizer.step(); call optimizer.step() before scheduler.step(loss)"
            )
        self._apply(self.sched(value, **self._signals) if self._wanted else self.sched(value))

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
        data: dict[str, Any] = {
            "last_epoch": self.last_epoch,
            "_last_lr": [float(x) for x in self._last_lr],
            "controller": self.sched.state_dict(),
            "settings": self.settings.to_config(),
        }
        if isinstance(self._prev, HeldDirection):  # the optimizer holds the direction: its LRs and moved parameters
            data["previous_update"] = {"lrs": list(self._prev.lrs), "moved": list(self._prev.moved)}
        elif self._prev is not None:  # theta_{t-1} and lr_{t-1}: the previous direction, for an exact resume
            old, lr = self._prev
            data["previous_update"] = {"theta": [p.detach().clone() for p in old], "lr": float(lr)}
        return data

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
        self.sched.load_state_dict(state_dict["controller" if "controller" in state_dict else "greedy"])  # 0.2: greedy
        self.last_epoch = self._observed_at = int(state_dict["last_epoch"])
        previous = state_dict.get("previous_update")
        if previous is not None and "lrs" in previous:
            self._prev = HeldDirection(tuple(float(x) for x in previous["lrs"]), tuple(map(bool, previous["moved"])))
        elif previous is not None:
            theta = [t.to(device=p.device, dtype=p.dtype).clone() for t, p in zip(previous["theta"], self._params())]
            self._prev = (theta, float(previous["lr"]))
        self._apply(self._current_lr())
        self._lr_at = self.last_epoch

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
