"""The schedule-free tournament for Optax: ``optax.contrib.schedule_free`` over your direction, its LR picked by
:func:`lrsched.peak_tournament` (``lrsched.tools.free_tournament``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrsched.adapters._optax_controller import refuse_ascent
from lrsched.tools.free_tournament import B1
from lrsched.tools.free_tournament import free_tournament as _free_tournament
from lrsched.tools.tournament import TournamentResult

__all__ = ["free_tournament", "schedule_free"]


def schedule_free(base: optax.GradientTransformation, lr: float, b1: float = B1) -> optax.GradientTransformation:
    """``optax.contrib.schedule_free`` over ``base`` (the direction per unit LR, without momentum:
    ``optax.scale_by_adam(b1=0.0)``, ``optax.identity()``), its LR a hyperparameter you can set per update
    (``optax.inject_hyperparams``: ``state.hyperparams["learning_rate"]``). Evaluate the average with
    ``optax.contrib.schedule_free_eval_params(state.inner_state, params)``."""

    def make(learning_rate: Any) -> optax.GradientTransformation:
        return optax.contrib.schedule_free(
            optax.chain(base, optax.scale_by_learning_rate(learning_rate)), learning_rate, b1=b1
        )

    return optax.inject_hyperparams(make)(learning_rate=lr)


def _refuse_momentum(owner: str, base: optax.GradientTransformation, params: Any) -> None:
    """Refuse a ``base`` that carries momentum (schedule-free's interpolation replaces it): probed with a gradient of
    ones, then zeros; without momentum the second update is zero."""
    ones = jax.tree_util.tree_map(jnp.ones_like, params)
    _, state = base.update(ones, base.init(params), params)
    second, _ = base.update(jax.tree_util.tree_map(jnp.zeros_like, params), state, params)
    if any(bool(jnp.any(leaf != 0)) for leaf in jax.tree_util.tree_leaves(second)):
        raise ValueError(
            f"{owner}: base carries momentum (after a gradient of ones its update for a zero gradient is not zero; "
            "weight decay inside base does the same): schedule-free's interpolation replaces momentum, so pass the "
            "direction without it, e.g. optax.scale_by_adam(b1=0.0) or optax.identity()"
        )


def free_tournament(
    loss_fn: Callable[[Any, Any], Any],
    params: Any,
    base: optax.GradientTransformation,
    batches: Any,
    *,
    lr: float,
    budget: int,
) -> TournamentResult:
    """The schedule-free tournament (``lrsched.tools.free_tournament``) in JAX and Optax.

    Each candidate is ``(params, state)`` of :func:`schedule_free` over ``base``, trained at the LRs the
    tournament gives in one ``jax.jit``-compiled ``lax.scan`` per round. ``base`` is the direction per unit LR
    *without momentum* (schedule-free's interpolation replaces it): ``optax.scale_by_adam(b1=0.0)`` for Adam,
    ``optax.identity()`` for SGD (give an SGD with momentum ``mu`` the LR
    ``lrsched.tools.free_tournament.schedule_free_lr(lr, mu)``). ``batches``: a pytree whose leading axis indexes
    the updates, as ``lrsched.adapters.optax.peak_tournament``'s.

    Returns:
        The :class:`lrsched.TournamentResult`; its ``winner`` is ``(params, state)``, the state at the winner's LR.
        Go on with ``schedule_free(base, result.lr)`` from that state for ``budget - result.used`` updates
        (minibatches from ``result.next_batch``), then evaluate
        ``optax.contrib.schedule_free_eval_params(state.inner_state, params)``.

    Example:
        >>> import jax, jax.numpy as jnp, numpy as np, optax
        >>> from lrsched.adapters.optax import free_tournament, schedule_free
        >>> rng = np.random.default_rng(0)
        >>> x = jnp.asarray(rng.normal(size=(1000, 32, 3)), jnp.float32)
        >>> batches = {"x": x, "y": x @ jnp.asarray([1.0, -2.0, 0.5])}
        >>> def loss_fn(p, b):
        ...     return jnp.mean((b["x"] @ p["w"] - b["y"]) ** 2)
        >>> base = optax.scale_by_adam(b1=0.0)
        >>> won = free_tournament(loss_fn, {"w": jnp.zeros(3)}, base, batches, lr=1e-3, budget=1000)
        >>> round(won.lr, 9), won.used, won.next_batch
        (0.009, 90, 30)
        >>> params, state = won.winner  # go on with schedule_free(base, won.lr) from here
        >>> round(float(state.hyperparams["learning_rate"]), 6)
        0.009
    """
    owner = "free_tournament"
    if not callable(loss_fn):
        raise TypeError(f"{owner}: loss_fn must be callable as loss_fn(params, batch), got {loss_fn!r}")
    if not isinstance(base, optax.GradientTransformation):
        raise TypeError(
            f"{owner}: base must be an optax.GradientTransformation without momentum (e.g. "
            f"optax.scale_by_adam(b1=0.0)), got {base!r}"
        )
    leaves = jax.tree_util.tree_leaves(batches)
    if not leaves or any(np.ndim(a) < 1 for a in leaves):
        raise ValueError(f"{owner}: batches must be a pytree of arrays with a leading axis of updates, got {batches!r}")
    available = min(int(np.shape(a)[0]) for a in leaves)
    refuse_ascent(owner, "base", base, params)
    _refuse_momentum(owner, base, params)
    opt = schedule_free(base, float(lr))

    @jax.jit
    def rounds(params: Any, state: Any, batch: Any, lrs: Any) -> tuple[tuple[Any, Any], Any]:
        def body(carry: tuple[Any, Any], x: tuple[Any, Any]) -> tuple[tuple[Any, Any], Any]:
            p, s = carry
            b, rate = x
            s.hyperparams["learning_rate"] = rate.astype(s.hyperparams["learning_rate"].dtype)
            loss, g = jax.value_and_grad(loss_fn)(p, b)
            u, s = opt.update(g, s, p)
            return (optax.apply_updates(p, u), s), loss

        return jax.lax.scan(body, (params, state), (batch, lrs))

    def train(member: Any, lrs: np.ndarray, start: int) -> tuple[Any, Any]:
        stop = start + len(lrs)
        if stop > available:
            raise ValueError(
                f"{owner}: the rounds train on minibatches 0 .. {stop - 1}, but batches holds {available}; give at "
                f"least {stop} (the run goes on from result.next_batch anyway)"
            )
        batch = jax.tree_util.tree_map(lambda a: a[start:stop], batches)
        member, losses = rounds(*member, batch, jnp.asarray(lrs, jnp.float32))
        return member, np.asarray(losses)

    return _free_tournament(train, (params, opt.init(params)), lr, budget)
