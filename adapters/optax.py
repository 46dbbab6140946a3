"""Optax adapter: lrsched schedules as Optax schedules, GreedyLR as an Optax transformation.

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
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lrsched.adapters._require import missing

from lrsched._base import Schedule, as_schedule

try:
    import jax.numpy as jnp
    import optax
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise missing("jax", error) from error

__all__ = ["OptaxSchedule", "as_optax_schedule"]


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
