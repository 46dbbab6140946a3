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
from typing import Any, NamedTuple

from lrsched._core.schedule import Schedule, as_schedule
from lrsched.adapters._require import missing

try:
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
except ImportError as error:  # pragma: no cover - exercised in a subprocess
    raise missing("jax", error) from error

from lrsched.greedy import GreedyLR, GreedyOn, GreedyState

__all__ = [
    "GreedyLRState",
    "OptaxSchedule",
    "as_optax_schedule",
    "greedy_lr_of",
    "greedy_state_of",
    "scale_by_greedy_lr",
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


class GreedyLRState(NamedTuple):
    """Optimizer state of :func:`scale_by_greedy_lr`.

    The controller's ``GreedyState`` is packed into two arrays (its float and its
    integer fields), so the optimizer state gains 3 leaves instead of a dozen: each
    leaf of a jitted step's state costs dispatch time on every step.
    :func:`greedy_state_of` unpacks it.
    """

    floats: Any  #: float32 fields of the GreedyState, flattened
    ints: Any  #: int32 fields of the GreedyState
    lr: Any  #: the LR the next update applies (float32 scalar)


@dataclasses.dataclass(frozen=True)
class _Packing:
    """Packs a ``GreedyState`` of JAX scalars (and one window array) into a float and an int array."""

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    is_float: tuple[bool, ...]

    @classmethod
    def of(cls, state: GreedyState) -> _Packing:
        leaves, treedef = jax.tree_util.tree_flatten(state)
        shapes = tuple(tuple(jnp.shape(leaf)) for leaf in leaves)
        return cls(treedef, shapes, tuple(bool(jnp.issubdtype(leaf.dtype, jnp.floating)) for leaf in leaves))

    def pack(self, state: GreedyState) -> tuple[Any, Any]:
        leaves = jax.tree_util.tree_leaves(state)
        floats = [jnp.ravel(x) for x, f in zip(leaves, self.is_float) if f]
        ints = [jnp.ravel(x) for x, f in zip(leaves, self.is_float) if not f]
        return jnp.concatenate(floats).astype(jnp.float32), jnp.concatenate(ints).astype(jnp.int32)

    def unpack(self, floats: Any, ints: Any) -> GreedyState:
        leaves, at = [], {True: 0, False: 0}
        for shape, is_float in zip(self.shapes, self.is_float):
            size = int(np.prod(shape, dtype=np.int64))
            source = floats if is_float else ints
            leaves.append(source[at[is_float] : at[is_float] + size].reshape(shape))
            at[is_float] += size
        return jax.tree_util.tree_unflatten(self.treedef, leaves)  # type: ignore[no-any-return]


def _next_lr(settings: GreedyLR | GreedyOn, state: GreedyState) -> Any:
    lr = settings.lr(state) if isinstance(settings, GreedyOn) else state.lr
    return jnp.asarray(lr, dtype=jnp.float32)


def _initial(settings: GreedyLR | GreedyOn) -> GreedyState:
    return settings.init(like=jnp.zeros((), jnp.float32))


def greedy_state_of(state: GreedyLRState, settings: GreedyLR | GreedyOn) -> GreedyState:
    """The controller's ``GreedyState`` held (packed) in a :class:`GreedyLRState`."""
    return _Packing.of(_initial(settings)).unpack(state.floats, state.ints)


def _check(settings: Any) -> None:
    if not isinstance(settings, (GreedyLR, GreedyOn)):
        raise TypeError(f"scale_by_greedy_lr: settings must be a GreedyLR or GreedyOn, got {type(settings).__name__}")
    controller = settings.controller if isinstance(settings, GreedyOn) else settings
    if controller.groups:
        raise ValueError(
            f"scale_by_greedy_lr: settings must hold scalar LRs (one LR for all parameters), got "
            f"{controller.groups} per-group values; use optax.multi_transform for groups"
        )
    if isinstance(settings, GreedyLR) and settings.init_lr is None:
        raise ValueError("scale_by_greedy_lr: settings.init_lr must be set, got None")


def scale_by_greedy_lr(
    settings: GreedyLR | GreedyOn,
    *,
    axis_name: str | None = None,
    flip_sign: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """Scale updates by GreedyLR's learning rate (``-lr`` with ``flip_sign``), steered by ``value=``.

    Args:
        settings: a ``lrsched.GreedyLR`` with ``init_lr`` set (the LR itself), or a
            ``lrsched.GreedyOn(base, controller, start_step)`` (``lr = base(t) * g_t``).
            One LR for all parameters; use ``optax.multi_transform`` for groups.
        axis_name: when set, ``value`` is averaged with ``lax.pmean`` over this
            mapped axis, so every device takes the same decision.
        flip_sign: multiply by ``-lr`` (descent, as ``optax.scale_by_learning_rate``).
    """
    _check(settings)
    sign = -1.0 if flip_sign else 1.0
    packing = _Packing.of(_initial(settings))

    def init_fn(params: Any) -> GreedyLRState:
        del params
        state = _initial(settings)
        return GreedyLRState(*packing.pack(state), _next_lr(settings, state))

    def update_fn(
        updates: Any, state: GreedyLRState, params: Any = None, *, value: Any, **extra: Any
    ) -> tuple[Any, GreedyLRState]:
        del params, extra
        value = jnp.asarray(value, jnp.float32)
        if axis_name is not None:
            value = jax.lax.pmean(value, axis_name)
        scale = sign * state.lr
        updates = jax.tree_util.tree_map(lambda u: (scale * u).astype(u.dtype), updates)
        new = settings.update(packing.unpack(state.floats, state.ints), value)
        return updates, GreedyLRState(*packing.pack(new), _next_lr(settings, new))

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def greedy_lr_of(opt_state: Any) -> Any:
    """The LR the next update applies, read from an optimizer state holding one :class:`GreedyLRState`."""
    found = [
        leaf
        for leaf in jax.tree_util.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, GreedyLRState))
        if isinstance(leaf, GreedyLRState)
    ]
    if len(found) != 1:
        raise ValueError(f"greedy_lr_of: expected one GreedyLRState in the optimizer state, found {len(found)}")
    return found[0].lr
