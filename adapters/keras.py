"""Keras 3 adapter: lrsched schedules as Keras learning-rate schedules, GreedyLR as a callback.

:class:`KerasSchedule` is a ``keras.optimizers.schedules.LearningRateSchedule``
wrapping any lrsched schedule. It evaluates with the active backend:

* inside a compiled train step (a JAX tracer, a TensorFlow graph tensor, a torch
  tensor) the formula runs on that backend's ops, compiled once with the step;
* called eagerly on a concrete step (JAX and TensorFlow outside a compiled
  function, torch on CPU outside ``torch.compile``; e.g. when a callback reads
  ``optimizer.learning_rate``, or each step of the eager torch trainer), it reads
  the step once and evaluates in plain Python: no per-call recompilation.

It serializes through lrsched's config (``get_config``/``from_config``) and is
registered as ``"lrsched>KerasSchedule"`` when this module is imported: a model
compiled with it saves to ``.keras`` and ``keras.models.load_model`` restores
it without ``custom_objects``, provided ``lrsched.adapters.keras`` has been
imported before ``load_model`` is called. The saved config names the module
(``"module": "lrsched.adapters.keras"``), but Keras 3 imports modules of its own
packages only (``keras``, ``keras_hub``...), so without the import ``load_model``
fails with "... could not be deserialized properly ... Could not locate class
'KerasSchedule'": import this module first, or pass
``custom_objects={"lrsched>KerasSchedule": KerasSchedule}``.

Example:
    >>> import keras, lrsched
    >>> from lrsched.adapters.keras import KerasSchedule
    >>> sched = KerasSchedule(lrsched.warmup(lrsched.cosine_decay(1e-3, 900), warmup_steps=100))
    >>> opt = keras.optimizers.Adam(learning_rate=sched)
    >>> round(float(sched(100)), 6)
    0.001
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from lrsched._core.config import from_config
from lrsched._core.schedule import Schedule, as_schedule
from lrsched.adapters._require import missing

try:
    import keras
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise missing("keras", error) from error

from lrsched.adapters._keras_ops import KerasOps

__all__ = ["ControllerCallback", "GreedyLRCallback", "KerasSchedule"]

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
        return cls(from_config(config["schedule"]))

    def __repr__(self) -> str:
        return f"KerasSchedule({self.schedule!r})"


from lrsched.adapters._keras_greedy import ControllerCallback, GreedyLRCallback  # noqa: E402
