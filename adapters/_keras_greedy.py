"""GreedyLR as a Keras 3 callback; re-exported by :mod:`lrsched.adapters.keras`."""

from __future__ import annotations

import dataclasses
from typing import Any

import keras

from lrsched._core.config import from_config
from lrsched._core.schedule import Schedule, as_schedule
from lrsched.greedy.closure import GreedyScheduler
from lrsched.greedy.settings import GreedyLR, resolve_settings

__all__ = ["GreedyLRCallback", "take_over_learning_rate"]


def take_over_learning_rate(optimizer: Any, schedule_type: type[Any]) -> Schedule | None:
    """Give an optimizer built with an lrsched ``schedule_type`` a settable LR variable; return the schedule.

    The new ``learning_rate`` variable takes the place a float LR's variable has
    (right after ``iterations``), so the optimizer saves and loads exactly like
    one built with a float learning rate. Returns ``None`` when the LR is already
    a variable; raises ``TypeError`` for other schedules.
    """
    current: Any = optimizer._learning_rate
    if isinstance(current, keras.Variable):
        return None
    if not isinstance(current, schedule_type):
        raise TypeError(
            f"GreedyLRCallback: the optimizer's learning rate must be a float or an lrsched KerasSchedule, "
            f"got {type(current).__name__}; pass the schedule as base= and a float learning rate instead"
        )
    value = float(keras.ops.convert_to_numpy(current(optimizer.iterations)))
    with keras.name_scope(optimizer.name, caller=optimizer):
        variable = keras.Variable(
            value, name="learning_rate", dtype=keras.backend.floatx(), trainable=False, aggregation="only_first_replica"
        )
    object.__setattr__(optimizer, "_learning_rate", variable)  # bypass Keras' attribute tracking: placed by hand
    optimizer._variables.insert(1, variable)
    base: Schedule = current.schedule
    return base


class GreedyLRCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Set the optimizer's learning rate with GreedyLR, from ``logs[monitor]`` after each batch or epoch.

    Args:
        settings: a ``lrsched.GreedyLR`` (``knobs`` override its fields). Without
            ``base``, ``init_lr=None`` starts from the optimizer's learning rate.
        monitor: the log key to watch (``"loss"``, ``"val_loss"``, a metric; use
            ``mode="max"`` for metrics to maximise). In batch logs Keras reports the
            running mean of the epoch so far.
        frequency: ``"epoch"`` (default) or ``"batch"`` (not with ``val_*`` keys).
        base: an lrsched schedule to steer on top of: ``lr = base(t) * g`` with
            ``t = optimizer.iterations`` and ``g`` the controller's LR (a multiplier,
            initially ``init_lr`` or 1.0) moving only once ``t >= start_step``. When the
            optimizer was built with a :class:`KerasSchedule`, that schedule becomes the
            base and the optimizer gets a settable learning-rate variable in its place
            (it then saves like an optimizer built with a float learning rate).

    The LR is written to ``logs["learning_rate"]``. ``state_dict()`` /
    ``load_state_dict()`` (JSON data) checkpoint the callback with the model.
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
        super().__init__()
        if frequency not in ("epoch", "batch"):
            raise ValueError(f"GreedyLRCallback: frequency must be 'epoch' or 'batch', got {frequency!r}")
        if frequency == "batch" and monitor.startswith("val_"):
            raise ValueError(f"GreedyLRCallback: monitor={monitor!r} is only logged per epoch; use frequency='epoch'")
        settings = resolve_settings("GreedyLRCallback", settings, knobs)
        if settings.groups:
            raise ValueError(
                "GreedyLRCallback: Keras optimizers have one learning rate; per-group settings are not supported"
            )
        self.settings = settings
        self.monitor, self.frequency, self.verbose = monitor, frequency, verbose
        self.base = None if base is None else as_schedule(base, owner="GreedyLRCallback", field="base")
        self.start_step = start_step
        self.greedy: GreedyScheduler | None = None

    # -- Keras hooks -----------------------------------------------------------------------------------------------
    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        model = self.model
        from lrsched.adapters.keras import KerasSchedule

        schedule = take_over_learning_rate(model.optimizer, KerasSchedule)
        if schedule is not None:
            if self.base is not None:
                raise ValueError("GreedyLRCallback: base= given and the optimizer has a KerasSchedule; pass only one")
            self.base = schedule
            model.make_train_function(force=True)
        if self.greedy is None:
            init = self.settings.init_lr
            if init is None:
                init = (
                    1.0 if self.base is not None else float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
                )
            self.settings = dataclasses.replace(self.settings, init_lr=init)
            self.greedy = GreedyScheduler(self.settings)
        self._apply()

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.base is not None:
            self._apply()  # follow the base schedule step by step

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.frequency == "batch":
            self._observe(logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.frequency == "epoch":
            self._observe(logs)
        if logs is not None:
            logs["learning_rate"] = self.current_lr()

    # -- the controller ---------------------------------------------------------------------------------------------
    def _step(self) -> int:
        return int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))

    def _observe(self, logs: dict[str, Any] | None) -> None:
        if not logs or self.monitor not in logs:
            raise KeyError(f"GreedyLRCallback: monitor={self.monitor!r} is not in the logs ({sorted(logs or {})})")
        assert self.greedy is not None
        if self.base is None or self._step() > self.start_step:  # the value belongs to step iterations - 1
            self.greedy(float(logs[self.monitor]))
        self._apply()
        if logs is not None:
            logs["learning_rate"] = self.current_lr()

    def current_lr(self) -> float:
        """The LR the next optimizer step uses."""
        assert self.greedy is not None
        if self.base is None:
            return float(self.greedy.lr)
        return float(self.base(self._step())) * float(self.greedy.lr)

    def _apply(self) -> None:
        lr = self.current_lr()
        self.model.optimizer.learning_rate = lr  # on JAX, reading self.model syncs the state first
        if self.verbose:
            print(f"GreedyLRCallback: step {self._step()}: learning rate {lr:.6g}")

    # -- checkpointing ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """JSON data: the settings, monitor, frequency, the base schedule's config and the controller's state."""
        if self.greedy is None:
            raise ValueError("GreedyLRCallback.state_dict: the callback has not been used in training yet")
        return {
            "settings": self.settings.to_config(),
            "monitor": self.monitor,
            "frequency": self.frequency,
            "base": None if self.base is None else self.base.to_config(),
            "start_step": self.start_step,
            "greedy": self.greedy.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from :meth:`state_dict` (before ``fit``); ``GreedyLRCallback().load_state_dict(d)`` suffices."""
        settings = from_config(state["settings"])
        if not isinstance(settings, GreedyLR):
            raise TypeError(f"GreedyLRCallback.load_state_dict: settings must be a GreedyLR, got {settings!r}")
        self.settings = settings
        self.monitor, self.frequency = str(state["monitor"]), str(state["frequency"])
        self.base = None if state["base"] is None else from_config(state["base"])
        self.start_step = int(state["start_step"])
        self.greedy = GreedyScheduler(settings)
        self.greedy.load_state_dict(state["greedy"])
