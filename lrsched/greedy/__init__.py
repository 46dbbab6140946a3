"""GreedyLR: a learning rate steered by the recent changes of a monitored value (usually the loss).

GreedyLR (Subramanian et al., arXiv 2512.14527) raises the LR after a run of
improvements and lowers it after a run of non-improvements, within
``[min_lr, max_lr]``. This module is the source of truth for lrsched's API.

API
---
* :class:`GreedyLR` -- frozen, hashable settings holding every knob, and the
  **pure core**: ``state = g.init(lr=None, like=None)``,
  ``state = g.update(state, value)``, the LR is ``state.lr``. ``GreedyState``
  is a NamedTuple of numbers (a JAX pytree); ``update`` has no Python branch
  on values, so it runs in plain Python and under ``jax.jit``, ``jax.vmap``
  and ``lax.scan`` with the same results. ``g.init(like=jnp.zeros(()))`` gives
  array leaves with stable dtypes for a scan carry (floats in ``like``'s dtype,
  counters int32, the smoothing window one ``(window,)`` array); for ``n``
  controllers under ``jax.vmap`` broadcast it:
  ``jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), state)``.
  Per-group LRs are tuples (one leaf per group).
  ``g.to_config()`` / ``lrsched.from_config(cfg)`` round-trip.
* :func:`greedy` -- the **stateful closure** :class:`GreedyScheduler`:
  ``lr = sched(loss)`` (or ``sched.step(loss)``), ``sched.lr``,
  ``sched.state`` (a ``GreedyState``), ``sched.state_dict()`` /
  ``sched.load_state_dict(d)`` (strict-JSON data; a restored run continues
  exactly), ``sched.to_config()``. ``greedy(GreedyLR(...))`` or
  ``greedy(**knobs)``; ``greedy(lrsched.from_config(cfg))`` rebuilds one.
* :func:`reduce_on_plateau` -- the same controller with increases off and
  torch's defaults: the LR sequence of ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
* :func:`greedy_on` -- GreedyLR **on top of a schedule**: ``lr_t = base(t) * g_t``,
  the controller's LR ``g_t`` being a multiplier (initially 1.0) that only
  listens from ``start_step`` on (:class:`GreedyOn` is the pure form).

Rules (one ``update`` with value ``x``; those of ``transformers.optimization.GreedyLR``)
------------------------------------------------------------------------------------------
1. Smoothing (``window > 1``): finite ``x`` is written into a ring buffer of
   ``window`` slots and the monitored value is the mean of the values held
   (a partial window at the start). Their sum ``state.total`` is a running
   sum, summed afresh from the values held (sequentially within blocks of 64
   slots, then over the blocks) each time the ring wraps and whenever the value
   leaving outweighs the running sum: rounding never accumulates past one
   window, a spike leaves no trace once it has left, and an update costs the
   same whatever the window.
2. ``x`` (smoothed) is better when ``x < best - threshold`` (``abs``) or
   ``x < best - |best| * threshold`` (``rel``; for ``best >= 0`` this is the
   reference's ``best * (1 - threshold)``), mirrored for ``mode='max'``.
   ``best`` starts at +inf ('min') / -inf ('max'), so the first value always counts.
3. While ``cooldown`` (steps after a decrease) or ``warmup`` (steps after an
   increase; a *counter*, not an LR ramp) runs, the counter ticks down, no
   decision is made, both run counters are zeroed and ``best`` is not updated
   (unless ``track_best_during_wait``, torch's cooldown).
4. Otherwise an improvement sets ``best``, counts a good step and zeroes the
   bad run; anything else counts a bad step and zeroes the good run. After
   ``patience + 1`` good steps the LR of every group becomes
   ``min(lr / factor, max_lr)`` (then ``warmup`` starts); after
   ``patience + 1`` bad steps ``max(lr * factor, min_lr)`` (then ``cooldown``
   starts). A change of ``eps`` or less is not applied. Groups have their own
   bounds and share the counters.
5. Reset (``reset_start`` set): a decrease after which every group sits at its
   ``min_lr`` uses up one of ``reset_start`` attempts (an increase restores
   them); when none is left the LR, ``best``, counters and window return to
   their initial values (the cooldown of that decrease still starts).

Deliberate deviations from the reference (each one shown by a test):

* ``rel`` thresholds scale ``|best|``: ``x < best - |best| * threshold``, so
  negative metrics (rewards, log-likelihoods) need a real improvement; the
  reference's ``best * (1 - threshold)`` accepts *worse* values when ``best < 0``.
  For ``best >= 0`` both are identical.
* Non-finite values (NaN, +-inf) never enter the window and are never stored
  as ``best``: with ``nonfinite='bad'`` (default) they count as a
  non-improvement (a NaN loss usually means the LR is too high), with
  ``'skip'`` they change nothing but ``state.step``. The reference's running
  sum stays NaN forever after one NaN.
* ``reset_start=None`` disables resets (the reference cannot).
* The window's running sum is summed afresh once per window and when a value
  leaving outweighs it (the reference never recomputes its running sum, so its
  rounding accumulates over the run, and one huge value spoils the means that
  follow it), so a smoothed value can differ in its last bits; only a
  comparison that ties within rounding can then go the other way.
* An ``init_lr`` outside ``[min_lr, max_lr]`` is refused at construction
  (``ValueError`` naming the bounds); the reference accepts it. The bounds
  are the valid LRs, and the rule assumes it starts among them: from below
  ``min_lr`` the reference's LR can only rise (each decrease, clipped to
  ``min_lr``, would be an increase and is skipped), and above ``max_lr`` it
  can only fall. Widen the bounds to start there.

Exactness: Python, ``jit``, ``vmap`` and ``scan`` give bit-identical states
for float64 states (``jax.enable_x64``); float32 states round as float32.

Example (pure core under JAX):
    >>> import jax, jax.numpy as jnp, lrsched
    >>> g = lrsched.GreedyLR(init_lr=0.1, patience=0, factor=0.5)
    >>> def step(state, loss):
    ...     state = g.update(state, loss)
    ...     return state, state.lr
    >>> run = jax.jit(lambda s, xs: jax.lax.scan(step, s, xs))
    >>> _, lrs = run(g.init(like=jnp.zeros(())), jnp.array([3.0, 2.0, 2.5]))
    >>> lrs.tolist()
    [0.20000000298023224, 0.4000000059604645, 0.20000000298023224]

Defaults (differ from the reference where its default is a trap)
----------------------------------------------------------------
``factor=0.95``, ``patience=10``, ``threshold=1e-4`` with ``'rel'`` (scale-free),
``window=1`` (off; use 10-50 for noisy per-step losses), ``cooldown=warmup=0``,
``min_lr=0.0`` (the reference's 1e-3 floor sits above typical fine-tuning LRs
and silently turns every decrease into a no-op), ``max_lr=None`` (no cap; set
one, e.g. 10x the initial LR, to bound increases), ``eps=1e-8``,
``reset_start=None``, ``nonfinite='bad'``.

Example:
    >>> import lrsched
    >>> sched = lrsched.greedy(init_lr=0.1, patience=1, factor=0.5, max_lr=0.4)
    >>> [sched(loss) for loss in (3.0, 2.0, 1.0, 1.0, 1.0, 0.5)]
    [0.1, 0.2, 0.2, 0.2, 0.1, 0.1]
"""

from __future__ import annotations

from typing import Any

from lrsched._core.schedule import Schedule, as_schedule
from lrsched.greedy.closure import GreedyScheduler
from lrsched.greedy.core import GreedyState
from lrsched.greedy.on import GreedyOn, GreedyOnScheduler
from lrsched.greedy.settings import GreedyLR, with_knobs

__all__ = [
    "GreedyLR",
    "GreedyState",
    "GreedyScheduler",
    "GreedyOn",
    "GreedyOnScheduler",
    "greedy",
    "greedy_on",
    "reduce_on_plateau",
]


def greedy(settings: GreedyLR | None = None, /, **knobs: Any) -> GreedyScheduler:
    """A stateful GreedyLR: ``lr = sched(loss)`` (:func:`lrsched.control` with a :class:`GreedyLR`).

    ``settings`` is a :class:`GreedyLR` (e.g. from :func:`reduce_on_plateau`
    or :func:`lrsched.from_config`); ``knobs`` are GreedyLR's fields and
    override it.

    Example:
        >>> from lrsched import greedy
        >>> sched = greedy(init_lr=1e-3, patience=0, factor=0.5)
        >>> sched(2.0), sched(3.0)
        (0.002, 0.001)
    """
    return GreedyScheduler(with_knobs("greedy", settings, knobs))


def reduce_on_plateau(
    *,
    init_lr: float | tuple[float, ...] | None = None,
    mode: str = "min",
    factor: float = 0.1,
    patience: int = 10,
    threshold: float = 1e-4,
    threshold_mode: str = "rel",
    cooldown: int = 0,
    min_lr: float | tuple[float, ...] = 0.0,
    eps: float = 1e-8,
    window: int = 1,
    nonfinite: str = "bad",
) -> GreedyLR:
    """GreedyLR with increases off: ``torch.optim.lr_scheduler.ReduceLROnPlateau``.

    Same parameters and defaults as torch's, keyword-only (``reduce_on_plateau(factor=0.1)``, never a
    positional number that could be read as the factor); ``best`` is tracked during the
    cooldown as torch does. As a value it composes with schedules
    (:func:`greedy_on`) and runs under ``jax.jit``. Two deliberate
    differences, both outside torch's sensible range: a ``'rel'`` threshold
    scales ``|best|`` (torch's accepts worse values once ``best < 0``), and a
    non-finite value is a bad step but never becomes ``best`` (torch takes
    ``-inf`` as a best that nothing ever beats).

    Example:
        >>> from lrsched import greedy, reduce_on_plateau
        >>> sched = greedy(reduce_on_plateau(init_lr=1.0, patience=0))
        >>> sched(1.0), sched(1.0), sched(0.5)
        (1.0, 0.1, 0.1)
    """
    return GreedyLR(
        init_lr=init_lr,
        mode=mode,
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=min_lr,
        eps=eps,
        window=window,
        nonfinite=nonfinite,
        increase=False,
        track_best_during_wait=True,
    )


def greedy_on(
    base: Schedule | float, controller: GreedyLR | None = None, /, *, start_step: int = 0, **knobs: Any
) -> GreedyOnScheduler:
    """GreedyLR on top of ``base``: ``lr_t = base(t) * g_t`` (:func:`lrsched.on_schedule` with a GreedyLR).

    ``g_t`` is the controller's LR used as a multiplier: it starts at
    ``controller.init_lr`` (``None`` -> 1.0), stays within the controller's
    ``[min_lr, max_lr]`` and moves only on values observed at steps
    ``t >= start_step`` (e.g. ``start_step=warmup_steps`` keeps a linear
    warmup intact). ``t`` counts the values observed so far.

    Example:
        >>> from lrsched import greedy_on
        >>> import lrsched
        >>> base = lrsched.warmup(lrsched.cosine_decay(1e-3, 1_000), warmup_steps=100)
        >>> sched = greedy_on(base, start_step=100, patience=5, min_lr=0.1, max_lr=2.0)
        >>> round(sched.lr, 9), round(sched(1.0), 9)
        (0.0, 1e-05)
    """
    controller = with_knobs("greedy_on", controller if controller is not None else GreedyLR(), knobs, "controller")
    return GreedyOnScheduler(GreedyOn(as_schedule(base, owner="greedy_on", field="base"), controller, start_step))
