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

from lrsched.adapters._require import missing

try:
    import keras  # noqa: F401  (the friendly ImportError when Keras is missing)
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise missing("keras", error) from error


__all__ = [
    "ControllerCallback",
    "GreedyLRCallback",
    "KerasSchedule",
    "SteeredSchedule",
    "free_tournament",
    "peak_tournament",
]

from lrsched.adapters._keras_controller import ControllerCallback, GreedyLRCallback
from lrsched.adapters._keras_schedules import KerasSchedule, SteeredSchedule
from lrsched.adapters._keras_tournament import peak_tournament

# Saved configs name this module (the public one) as the classes' home.
KerasSchedule.__module__ = SteeredSchedule.__module__ = __name__


def free_tournament(*args: object, **kwargs: object) -> None:
    """The schedule-free tournament (``lrsched.tools.free_tournament``) has no Keras path: it trains a schedule-free
    optimizer, and Keras 3 ships none. Always raises ``NotImplementedError`` saying so; use :func:`peak_tournament`
    and its ``anneal()`` (through :class:`ControllerCallback`), or the method in torch or Optax."""
    raise NotImplementedError(
        "free_tournament: Keras 3 ships no schedule-free optimizer, which the schedule-free tournament trains (its "
        "average x replaces the anneal); use lrsched.adapters.keras.peak_tournament and ControllerCallback("
        "won.anneal(), frequency='batch'), or the method in torch (schedulefree) or Optax (optax.contrib)"
    )
