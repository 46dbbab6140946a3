"""Any lrsched controller as a Keras 3 callback, ``ControllerCallback``; re-exported by ``lrsched.adapters.keras``."""

from __future__ import annotations

from typing import Any

import keras

from lrsched._core.config import from_config, schedule_from_config
from lrsched._core.schedule import Schedule, as_schedule
from lrsched.adapters._keras_schedules import KerasSchedule, SteeredSchedule, track_multiplier
from lrsched.adapters._unserved import refuse_unserved
from lrsched.controllers.closure import Control
from lrsched.controllers.on import Controlled
from lrsched.controllers.protocol import Controller
from lrsched.greedy.settings import GreedyLR, with_knobs

__all__ = ["ControllerCallback", "GreedyLRCallback", "take_over_learning_rate"]


def take_over_learning_rate(optimizer: Any) -> Any:
    """Put a :class:`SteeredSchedule` in place of an optimizer's ``KerasSchedule``; return it (``None`` for a float LR).

    An optimizer already steered (a second ``fit``, or one restored by ``load_model``) keeps its schedule.
    Raises ``TypeError`` for other schedules.
    """
    current: Any = optimizer._learning_rate  # Keras keeps the schedule only here (no public getter)
    if isinstance(current, keras.Variable):
        return None
    if isinstance(current, KerasSchedule):
        current = SteeredSchedule(current.schedule)
        optimizer._learning_rate = current  # not a Variable: Keras' tracker ignores it, get_config serializes it
    if not isinstance(current, SteeredSchedule):
        raise TypeError(
            f"ControllerCallback: the optimizer's learning rate must be a float or an lrsched KerasSchedule, "
            f"got {type(current).__name__}; pass the schedule as base= and a float learning rate instead"
        )
    return current


class ControllerCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Set the optimizer's learning rate with a controller, from ``logs[monitor]`` after each batch or epoch.

    Args:
        controller: a :class:`lrsched.Controller` reading only the loss (e.g. ``lrsched.GreedyLR``). Without
            ``base``, an ``init_lr`` of ``None`` starts from the optimizer's learning rate.
        monitor: the log key to watch (``"loss"``, ``"val_loss"``, a metric; use the controller's
            ``mode="max"`` for metrics to maximise). In batch logs Keras reports the running mean of the epoch.
        frequency: ``"epoch"`` (default) or ``"batch"`` (not with ``val_*`` keys).
        base: an lrsched schedule to steer on top of (:func:`lrsched.on_schedule`): ``lr = base(t) * g`` with
            ``t = optimizer.iterations`` and ``g`` the controller's LR (a multiplier, initially ``init_lr`` or
            1.0); a value observed at update ``t < start_step`` is ignored. When the optimizer was built with a
            :class:`KerasSchedule`, that schedule becomes the base: the optimizer gets a :class:`SteeredSchedule`
            in its place, and the callback writes only its multiplier ``g`` (when ``g`` changes).
        verbose: 1 prints a line when the controller changes the LR (as Keras' ``ReduceLROnPlateau`` does).

    The LR is written to ``logs["learning_rate"]``. ``state_dict()`` / ``load_state_dict()`` (JSON data)
    checkpoint the callback with the model. A steered schedule saves itself: ``g`` and ``state_dict()`` are in
    the ``.keras`` file, also in one written during ``fit`` (``load_model`` then trains on at ``base(t) * g``, with
    the optimizer's state). A float LR saves as a float.
    """

    def __init__(
        self,
        controller: Controller,
        *,
        monitor: str = "loss",
        frequency: str = "epoch",
        base: Schedule | float | None = None,
        start_step: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if frequency not in ("epoch", "batch"):
            raise ValueError(f"{name}: frequency must be 'epoch' or 'batch', got {frequency!r}")
        if frequency == "batch" and monitor.startswith("val_"):
            raise ValueError(f"{name}: monitor={monitor!r} is only logged per epoch; use frequency='epoch'")
        if not isinstance(controller, Controller):
            raise TypeError(f"{name}: controller must be a Controller, got {type(controller).__name__}")
        refuse_unserved(name, controller, frozenset({"loss"}), needs_served=frozenset())
        if controller.groups:
            raise ValueError(f"{name}: Keras optimizers have one learning rate; per-group settings are not supported")
        self.settings = controller
        self.monitor, self.frequency, self.verbose = monitor, frequency, verbose
        self.base = None if base is None else as_schedule(base, owner=name, field="base")
        self.start_step = start_step
        self.sched: Control | None = None
        self._pending: dict[str, Any] | None = None  # a loaded controller state waiting for the optimizer's LR
        self._lr: float | None = None  # the LR (or multiplier g) last written to the optimizer
        self._steered: Any = None  # the optimizer's SteeredSchedule while it steers one
        self._t = 0  # optimizer.iterations, counted here per batch (reading the variable syncs the device)
        self._set_hooks()

    def _set_hooks(self) -> None:
        """Per epoch, no batch-end hook: Keras then keeps dispatching batch callbacks asynchronously."""
        self.__dict__.pop("on_train_batch_end", None)
        if self.frequency == "epoch":
            self.on_train_batch_end = keras.callbacks.Callback.on_train_batch_end.__get__(self)  # type: ignore[method-assign]

    # -- Keras hooks -----------------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        model = self.model
        before = model.optimizer._learning_rate  # a new SteeredSchedule needs a retrace; a kept one does not
        self._steered = steered = take_over_learning_rate(model.optimizer)
        if steered is not None:
            if self.base is not None and self.base != steered.schedule:
                raise ValueError(f"{type(self).__name__}: base= given and the optimizer has another KerasSchedule")
            self.base = steered.schedule
            track_multiplier(model.optimizer, steered.multiplier, True)
            if steered is not before:
                model.make_train_function(force=True)
        self._t = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        if self.sched is None:
            lr = None
            if steered is not None:
                lr = float(keras.ops.convert_to_numpy(steered.multiplier))  # 1.0, or g restored by load_model
            elif self.settings.init_lr is None and self.base is None:
                lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
            self.sched = Control(self._controlled(), lr)
        if self._pending is not None:
            self.sched.load_state_dict(self._pending)
            self._pending = None
        if steered is not None:
            steered.state_hook = self.state_dict  # a checkpoint saved during fit holds the live state
        self._lr = None
        self._apply()

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        steered = self._steered
        if steered is not None:
            steered.controller, steered.state_hook = self.state_dict(), None  # no reference to the callback kept
            track_multiplier(self.model.optimizer, steered.multiplier, False)

    def _controlled(self) -> Controller[Any]:
        return self.settings if self.base is None else Controlled(self.base, self.settings, self.start_step)

    def _follows_base(self) -> bool:
        """Whether the LR follows a schedule update by update: ``base=`` given, or an ``on_schedule`` controller."""
        return self.sched is not None and isinstance(self.sched.controller, Controlled)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self._steered is None and self._follows_base():
            self._apply()  # follow the base schedule step by step (a SteeredSchedule does so in the step)
        self._t += 1  # the update about to run is t - 1

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self._observe(logs)  # frequency="batch" only (see __init__)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.frequency == "epoch":
            self._observe(logs)
        if logs is not None:
            logs["learning_rate"] = self.current_lr()

    # -- the controller ---------------------------------------------------------------------------------------------
    def _observe(self, logs: dict[str, Any] | None) -> None:
        if not logs or self.monitor not in logs:
            raise KeyError(f"{type(self).__name__}: monitor={self.monitor!r} is not in the logs ({sorted(logs or {})})")
        assert self.sched is not None
        if self.sched.t != self._t - 1:  # the value belongs to update iterations - 1: the clock counts updates
            self.sched.set_step(self._t - 1)
        before = self.sched.lr
        self.sched(float(logs[self.monitor]))
        if self.verbose and self.sched.lr != before:
            print(f"\n{type(self).__name__}: step {self._t}: learning rate {self.current_lr():.6g}")
        self._apply()
        logs["learning_rate"] = self.current_lr()

    def current_lr(self) -> float:
        """The LR the next optimizer step uses."""
        assert self.sched is not None
        if not self._follows_base():
            return float(self.sched.lr)
        controlled = self.sched.controller
        assert isinstance(controlled, Controlled)
        if self.sched.t == self._t:
            return float(self.sched.lr)
        return float(controlled.lr(controlled.at(self.sched.state, self._t)))

    def _apply(self) -> None:
        if self._steered is not None:  # write g only; the optimizer's SteeredSchedule multiplies base(t)
            assert self.sched is not None
            lr = float(self.sched.controller.controller.lr(self.sched.state))  # type: ignore[attr-defined]
            if lr != self._lr:
                self.model  # noqa: B018 - on JAX, reading self.model syncs the state: the next step reads g
                self._steered.multiplier.assign(lr)
                self._lr = lr
            return
        lr = self.current_lr()
        if lr != self._lr:  # assign only on a change: each assignment costs a device write
            self.model.optimizer.learning_rate = lr  # on JAX, reading self.model syncs the state first
            self._lr = lr

    # -- checkpointing ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON data: the controller, monitor, frequency, the base schedule's config and the controller's state."""
        if self.sched is None and self._pending is None:
            raise ValueError(f"{type(self).__name__}.state_dict: the callback has not been used in training yet")
        return {
            "settings": self.settings.to_config(),
            "monitor": self.monitor,
            "frequency": self.frequency,
            "base": None if self.base is None else self.base.to_config(),
            "start_step": self.start_step,
            "controller": self._pending if self.sched is None else self.sched.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state_dict`` (before ``fit``); ``GreedyLRCallback().load_state_dict(d)`` suffices. A
        controller without ``init_lr`` (it starts from the optimizer's LR) takes the state at ``on_train_begin``."""
        settings = from_config(state["settings"])
        if not isinstance(settings, Controller):
            raise TypeError(f"{type(self).__name__}.load_state_dict: settings must be a controller, got {settings!r}")
        self.settings = settings
        self.monitor, self.frequency = str(state["monitor"]), str(state["frequency"])
        self._set_hooks()
        self.base = None if state["base"] is None else schedule_from_config(state["base"], "state.base")
        self.start_step = int(state["start_step"])
        self._pending = state["controller" if "controller" in state else "greedy"]  # 0.2: "greedy"
        self.sched = None
        if self.base is not None or settings.init_lr is not None:  # else the optimizer's LR shapes the state
            self.sched = Control(self._controlled(), 1.0 if self.base is not None else None)
            self.sched.load_state_dict(self._pending)
            self._pending = None


class GreedyLRCallback(ControllerCallback):
    """GreedyLR as a Keras callback: :class:`ControllerCallback` with a :class:`lrsched.GreedyLR`.

    ``GreedyLRCallback(settings=None, *, monitor="loss", frequency="epoch", base=None, start_step=0,
    verbose=0, **knobs)``; ``knobs`` are GreedyLR's fields.
    """

    def __init__(
        self,
        settings: GreedyLR | None = None,
        *,
        monitor: str = "loss",
        frequency: str = "epoch",
        base: Schedule | float | None = None,
        start_step: int = 0,
        verbose: int = 0,
        **knobs: Any,
    ) -> None:
        controller = with_knobs("GreedyLRCallback", settings, knobs)
        super().__init__(
            controller, monitor=monitor, frequency=frequency, base=base, start_step=start_step, verbose=verbose
        )
