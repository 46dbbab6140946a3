"""Framework adapters, imported as ``lrsched.adapters.optax``, ``.keras`` and ``.torch``.

Each adapter imports its framework only when it is imported itself, and raises an
``ImportError`` naming the extra to install (``pip install "lrsched[torch]"``,
``"lrsched[jax]"``, ``"lrsched[keras]"``) when the framework is missing.

* ``lrsched.adapters.torch``: ``schedule_lr(optimizer, schedule, mode=...)`` -> a
  ``LambdaLR`` whose groups get the schedule's value (``mode="absolute"``) or their own
  LR times it (``mode="relative"``); it leaves ``initial_lr`` alone, so torch's
  schedulers mix with it in ``SequentialLR``/``ChainedScheduler``. ``ControllerScheduler`` for any
  ``lrsched.Controller`` and ``GreedyLRScheduler`` (``ReduceLROnPlateau`` subclasses:
  ``scheduler.step(loss)``, optional ``base=`` schedule, mean over ``torch.distributed`` ranks).
* ``lrsched.adapters.optax``: ``as_optax_schedule(schedule)`` (int32 ``count`` ->
  float32 LR); ``scale_by_controller(controller)`` / ``scale_by_greedy_lr(settings)``,
  ``GradientTransformationExtraArgs`` taking ``value=loss`` (optional ``axis_name`` for
  ``pmap``/``shard_map``); ``controlled(inner, controller)`` adds the gradient/direction
  signals; ``greedy_lr_of(opt_state)`` for logging.
* ``lrsched.adapters.keras``: ``KerasSchedule(schedule)``, a serializable
  ``LearningRateSchedule`` (import the module before ``keras.models.load_model``: Keras 3
  imports only its own packages when loading, so it cannot import lrsched itself);
  ``ControllerCallback`` / ``GreedyLRCallback`` (per batch or epoch, can steer a ``KerasSchedule``).

All step counts start at 0: the first optimizer update uses ``schedule(0)``.
"""
