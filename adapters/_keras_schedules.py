"""The Keras LR schedules (``KerasSchedule``, ``SteeredSchedule``); re-exported by :mod:`lrsched.adapters.keras`."""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import keras
import numpy as np

from lrsched._core.config import schedule_from_config
from lrsched._core.schedule import Schedule, as_schedule
from lrsched.adapters._keras_ops import KerasOps

__all__ = ["KerasSchedule", "SteeredSchedule"]

_KERAS_OPS: KerasOps | None = None


def _keras_ops() -> KerasOps:
    global _KERAS_OPS
    if _KERAS_OPS is None:
        _KERAS_OPS = KerasOps()
    return _KERAS_OPS


def _concrete_step(step: Any) -> int | float | None:
    """The step as a Python number when it is concrete (eager), else ``None``."""
    if isinstance(step, (int, float)):
        return step
    if len(getattr(step, "shape", ())) != 0:
        return None  # an array of steps: evaluate on the backend's arrays
    if isinstance(step, (np.ndarray, np.generic)):
        return step.item()  # type: ignore[no-any-return]
    backend = keras.backend.backend()
    if backend == "jax":
        jax = sys.modules["jax"]
        if isinstance(step, jax.core.Tracer):
            return None
        return step.item()
    if backend == "tensorflow":
        tf = sys.modules["tensorflow"]
        if not tf.executing_eagerly() or tf.is_symbolic_tensor(step):
            return None
        return step.numpy().item()
    if backend == "torch":
        torch = sys.modules["torch"]
        if step.device.type != "cpu" or torch.compiler.is_compiling():
            return None  # no device sync, no graph break: evaluate on tensors
        return step.item()
    return None


@keras.saving.register_keras_serializable(package="lrsched", name="KerasSchedule")
class KerasSchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """A Keras ``LearningRateSchedule`` whose value at ``step`` is ``schedule(step)`` (float32).

    Args:
        schedule: an lrsched schedule (or a number).
    """

    def __init__(self, schedule: Schedule | float) -> None:
        super().__init__()
        self.schedule = as_schedule(schedule, owner="KerasSchedule")

    def __call__(self, step: Any) -> Any:
        ops = keras.ops
        if isinstance(step, keras.Variable):
            step = step.value
        number = _concrete_step(step)
        if number is not None:
            return ops.convert_to_tensor(self.schedule(number), dtype="float32")
        backend = keras.backend.backend()
        t = ops.cast(step, "float32")
        if backend in ("jax", "torch"):
            return ops.cast(self.schedule(t), "float32")
        return ops.cast(self.schedule._eval(ops.maximum(t, 0.0), _keras_ops()), "float32")

    def get_config(self) -> dict[str, Any]:
        return {"schedule": self.schedule.to_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasSchedule:
        return cls(schedule_from_config(config["schedule"]))

    def __repr__(self) -> str:
        return f"KerasSchedule({self.schedule!r})"


@keras.saving.register_keras_serializable(package="lrsched", name="SteeredSchedule")
class SteeredSchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """``schedule(step) * g``: an lrsched schedule under a controller's multiplier ``g`` (a ``keras.Variable``).

    :class:`ControllerCallback` puts it in place of an optimizer's :class:`KerasSchedule` and writes only
    ``multiplier`` (when ``g`` changes); the schedule runs inside the compiled step. Its config holds the
    schedule, ``g`` and the callback's ``state_dict()`` (read when the model is saved), so a ``.keras`` file
    loaded with ``keras.models.load_model`` trains on at ``schedule(t) * g`` even without the callback, and
    ``GreedyLRCallback().load_state_dict(schedule.controller)`` resumes the controller exactly.

    Args:
        schedule: an lrsched schedule (or a number); ``step`` is ``optimizer.iterations``.
        multiplier: the initial ``g`` (float).
        controller: the controlling callback's ``state_dict()`` (JSON data), or ``None``.

    Example:
        >>> import lrsched
        >>> from lrsched.adapters.keras import SteeredSchedule
        >>> round(float(SteeredSchedule(lrsched.constant(0.1), multiplier=0.5)(3)), 6)
        0.05
    """

    def __init__(
        self, schedule: Schedule | float, multiplier: float = 1.0, controller: dict[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.base = KerasSchedule(schedule)
        self.schedule = self.base.schedule
        self.multiplier = keras.Variable(
            float(multiplier), name="lr_multiplier", dtype="float32", trainable=False, aggregation="only_first_replica"
        )
        self.controller = controller
        self.state_hook: Any = None  # set by the callback: its live state_dict, read only at save time

    def __call__(self, step: Any) -> Any:
        return keras.ops.multiply(self.base(step), keras.ops.cast(self.multiplier, "float32"))

    def get_config(self) -> dict[str, Any]:
        controller = self.controller if self.state_hook is None else self.state_hook()
        g = float(keras.ops.convert_to_numpy(self.multiplier))
        return {"schedule": self.schedule.to_config(), "multiplier": g, "controller": controller}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SteeredSchedule:
        return cls(schedule_from_config(config["schedule"]), config["multiplier"], config.get("controller"))

    def __repr__(self) -> str:
        g = float(keras.ops.convert_to_numpy(self.multiplier))
        return f"SteeredSchedule({self.schedule!r}, multiplier={g!r})"


def track_multiplier(optimizer: Any, variable: Any, on: bool) -> None:
    """JAX only: list ``variable`` among the optimizer's during ``fit`` so the jitted step reads it as state.

    Elsewhere the compiled step reads the live variable. Off the list after ``fit``, and left out of what a
    checkpoint saved during ``fit`` stores, the optimizer's saved variables match those of one rebuilt from the
    config by ``load_model`` (the value travels in the config).
    """
    if keras.backend.backend() != "jax":
        return
    kept = [v for v in optimizer._variables if v is not variable]  # Keras' private list behind .variables
    optimizer._variables[:] = [*kept, variable] if on else kept
    if on:  # a checkpoint saved during fit leaves g out too (its value travels in the schedule's config)
        object.__setattr__(optimizer, "save_own_variables", partial(_save_without, optimizer, variable))
    else:
        optimizer.__dict__.pop("save_own_variables", None)


def _save_without(optimizer: Any, variable: Any, store: Any) -> None:
    """``optimizer.save_own_variables(store)`` with ``variable`` off its list for the call."""
    listed = optimizer._variables[:]
    optimizer._variables[:] = [v for v in listed if v is not variable]
    try:
        type(optimizer).save_own_variables(optimizer, store)
    finally:
        optimizer._variables[:] = listed
