"""Optax adapter: lrsched schedules as Optax schedules, GreedyLR as an Optax transformation.

Schedules
---------

Every lrsched schedule already maps a JAX step array to a JAX array, so it can
be passed wherever Optax takes a schedule. :func:`as_optax_schedule` makes the
contract explicit and typed: Optax's ``count`` is an ``int32`` array (saturating
at ``2**31 - 1``); it is converted to float before the formula runs (exact up to
``2**24`` steps in float32) and the learning rate comes back as a scalar of
``dtype`` (float32 by default, also when ``jax_enable_x64`` is on), so it never
up-casts float32 parameters.

Example:
    >>> import jax.numpy as jnp, optax, lrsched
    >>> from lrsched.adapters.optax import as_optax_schedule
    >>> sched = as_optax_schedule(lrsched.warmup(lrsched.cosine_decay(1e-3, 900), warmup_steps=100))
    >>> opt = optax.adamw(learning_rate=sched)
    >>> float(sched(jnp.asarray(100, jnp.int32)))
    0.0010000000474974513

GreedyLR
--------
:func:`scale_by_greedy_lr` is an ``optax.GradientTransformationExtraArgs``
that multiplies the updates by ``-lr`` (like ``optax.scale_by_learning_rate``)
and takes the monitored value as ``update(updates, state, params, value=loss)``
(like ``optax.contrib.reduce_on_plateau``). Its state (a NamedTuple holding the
pure ``GreedyState``) lives in the optimizer state, so ``jax.jit``,
``jax.tree_util`` and pytree checkpointing (orbax, npz) just work.

Timing, as in torch's ``scheduler.step(loss)`` after ``optimizer.step()``: the
update at count ``t`` applies the LR chosen from the values of updates
``0..t-1``; the value passed to it (the loss of the parameters being updated)
decides the LR from update ``t + 1`` on. :func:`greedy_lr_of` reads the LR of
the next update from an optimizer state, for logging. With
``lrsched.GreedyOn(base, controller, start_step)`` the LR is ``base(t) * g_t``.
``axis_name`` averages the value over a mapped axis (``pmap``/``shard_map``)
so every device applies the same LR.

Example:
    >>> import jax.numpy as jnp, optax, lrsched
    >>> from lrsched.adapters.optax import scale_by_greedy_lr, greedy_lr_of
    >>> opt = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(lrsched.GreedyLR(init_lr=0.1, patience=0)))
    >>> params = {"w": jnp.ones(3)}
    >>> state = opt.init(params)
    >>> updates, state = opt.update(params, state, params, value=jnp.asarray(1.0))
    >>> round(float(greedy_lr_of(state)), 6)  # an improvement with patience=0: up by 1 / 0.95
    0.105263
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lrsched._core.schedule import Schedule, as_schedule
from lrsched.adapters._require import missing

try:
    import jax.numpy as jnp
    import optax
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise missing("jax", error) from error

from lrsched.adapters._optax_controller import (
    ControlledState,
    ControllerState,
    GreedyLRState,
    controlled,
    controller_state_of,
    greedy_lr_of,
    greedy_state_of,
    lr_of,
    scale_by_controller,
    scale_by_greedy_lr,
    upgrade_state,
)
from lrsched.adapters._optax_free_tournament import free_tournament, schedule_free
from lrsched.adapters._optax_tournament import peak_tournament

__all__ = [
    "ControlledState",
    "ControllerState",
    "GreedyLRState",
    "controller_state_of",
    "lr_of",
    "OptaxSchedule",
    "as_optax_schedule",
    "controlled",
    "free_tournament",
    "greedy_lr_of",
    "greedy_state_of",
    "peak_tournament",
    "scale_by_controller",
    "scale_by_greedy_lr",
    "schedule_free",
    "upgrade_state",
]


@dataclasses.dataclass(frozen=True)
class OptaxSchedule:
    """An Optax schedule ``count -> learning rate`` backed by an lrsched schedule.

    Picklable, hashable (usable as a ``jax.jit`` static argument) and works under
    ``jit``/``vmap``/``scan``. Use :func:`as_optax_schedule` to build one.
    """

    schedule: Schedule
    dtype: str = "float32"

    def __call__(self, count: Any) -> Any:
        step = jnp.asarray(count)
        if not jnp.issubdtype(step.dtype, jnp.floating):
            step = step.astype(self.dtype)
        return jnp.asarray(self.schedule(step), dtype=self.dtype)


def as_optax_schedule(schedule: Schedule | float, dtype: str = "float32") -> optax.Schedule:
    """Wrap an lrsched schedule (or a number) as an Optax schedule returning ``dtype`` scalars.

    Use the result as ``learning_rate=`` of any Optax optimizer, in
    ``optax.scale_by_schedule`` or in ``optax.inject_hyperparams``.
    """
    if str(jnp.dtype(dtype)) not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"as_optax_schedule: dtype must be a floating dtype, got {dtype!r}")
    return OptaxSchedule(as_schedule(schedule, owner="as_optax_schedule"), str(jnp.dtype(dtype)))
