"""``peak_tournament`` for Optax: the candidates are (params, direction state) pytrees, trained in a jitted scan."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrsched.adapters._optax_controller import refuse_ascent
from lrsched.tools.tournament import TournamentResult
from lrsched.tools.tournament import peak_tournament as _peak_tournament

__all__ = ["peak_tournament"]


def peak_tournament(
    loss_fn: Callable[[Any, Any], Any],
    params: Any,
    direction: optax.GradientTransformation,
    batches: Any,
    *,
    lr: float,
    budget: int,
    **settings: Any,
) -> TournamentResult:
    """:func:`lrsched.peak_tournament` for JAX and Optax: pick the peak LR by training candidates.

    Each candidate is ``(params, state)`` of ``direction``, the update per unit LR that Optax places before
    ``scale_by_learning_rate`` (``optax.scale_by_adam()``, ``optax.chain(optax.clip_by_global_norm(1.0),
    optax.scale_by_adam())``, ``optax.trace(0.9)``; not ``optax.adam(lr)``, which already applies an LR). An update at
    LR ``lr_t`` is ``params - lr_t * direction(grad)``, the minibatch loss and the gradient from
    ``jax.value_and_grad(loss_fn)(params, batch)``, in one ``jax.jit``-compiled ``lax.scan`` per round (JAX arrays
    are immutable: the candidates share nothing and nothing is copied).

    Args:
        loss_fn: ``loss_fn(params, batch) -> scalar``.
        params: the initial parameters (every candidate starts from them).
        direction: the Optax transformation giving the update direction (see above).
        batches: a pytree of arrays whose leading axis indexes the updates: update ``t`` trains on
            ``jax.tree_util.tree_map(lambda a: a[t], batches)``. The rounds read the first ``result.next_batch``;
            the run goes on from ``result.next_batch``.
        lr: the rough LR (> 0).
        budget: the run's length in optimizer updates; every candidate's updates count against it.
        settings: ``grid``, ``rounds``, ``keep`` of :func:`lrsched.peak_tournament`.

    Returns:
        The :class:`lrsched.TournamentResult`, whose ``winner`` is ``(params, direction_state)``. Go on with
        ``controlled(direction, result.anneal())``, its state's ``inner`` being the winner's direction state.

    Example:
        >>> import jax, jax.numpy as jnp, numpy as np, optax
        >>> from lrsched.adapters.optax import controlled, lr_of, peak_tournament
        >>> rng = np.random.default_rng(0)
        >>> x = jnp.asarray(rng.normal(size=(1000, 32, 3)), jnp.float32)  # 1,000 minibatches of 32 rows
        >>> batches = {"x": x, "y": x @ jnp.asarray([1.0, -2.0, 0.5])}
        >>> def loss_fn(p, b):
        ...     return jnp.mean((b["x"] @ p["w"] - b["y"]) ** 2)
        >>> params = {"w": jnp.zeros(3)}
        >>> won = peak_tournament(loss_fn, params, optax.scale_by_adam(), batches, lr=1e-3, budget=1000)
        >>> round(won.lr, 9), won.used, won.next_batch  # 1e-3 x 9 wins; 5 x 10 + 2 x 20 updates charged
        (0.009, 90, 30)
        >>> opt = controlled(optax.scale_by_adam(), won.anneal())  # decay on stall from the winner's LR
        >>> params, inner = won.winner
        >>> state = opt.init(params)._replace(inner=inner)  # then train on batches[30:], 910 updates
        >>> round(float(lr_of(state)), 6)
        0.009
    """
    owner = "peak_tournament"
    if not callable(loss_fn):
        raise TypeError(f"{owner}: loss_fn must be callable as loss_fn(params, batch), got {loss_fn!r}")
    if not isinstance(direction, optax.GradientTransformation):
        raise TypeError(
            f"{owner}: direction must be an optax.GradientTransformation (e.g. optax.scale_by_adam()), "
            f"got {direction!r}"
        )
    leaves = jax.tree_util.tree_leaves(batches)
    if not leaves or any(np.ndim(a) < 1 for a in leaves):
        raise ValueError(f"{owner}: batches must be a pytree of arrays with a leading axis of updates, got {batches!r}")
    available = min(int(np.shape(a)[0]) for a in leaves)
    refuse_ascent(owner, "direction", direction, params)

    @jax.jit
    def rounds(params: Any, state: Any, batch: Any, lrs: Any) -> tuple[tuple[Any, Any], Any]:
        def body(carry: tuple[Any, Any], x: tuple[Any, Any]) -> tuple[tuple[Any, Any], Any]:
            p, s = carry
            b, rate = x
            loss, g = jax.value_and_grad(loss_fn)(p, b)
            u, s = direction.update(g, s, p)
            p = jax.tree_util.tree_map(lambda a, d: (a - rate * d).astype(a.dtype), p, u)
            return (p, s), loss

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
        return member, np.asarray(losses)  # one host sync per candidate and round

    return _peak_tournament(train, (params, direction.init(params)), lr, budget, **settings)
