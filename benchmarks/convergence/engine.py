"""The training loop every benchmark run goes through: Adam (or SGD) in JAX, jitted, vmapped over runs.

A run is ``steps`` optimizer updates. At step ``t`` the optimizer uses ``lr[t]``; the loss it
records is the loss of the parameters *before* that update (the PyTorch convention: compute
loss, backward, ``optimizer.step()``, then ``scheduler.step()``). Two kinds of LR policy:

* ``scheduled``: the LR of every step is known in advance (``schedule(np.arange(steps))``),
  so all time-based schedules of one problem share one compiled function;
* ``controlled``: a GreedyLR-style controller fed the loss after each step
  (``state = ctrl.update(state, loss)``, next LR ``state.lr``), traced into the same scan.

Example:
    >>> import numpy as np, jax.numpy as jnp
    >>> loss = lambda p, data, batch: jnp.sum((p - data) ** 2)
    >>> run = runner(loss)
    >>> out = run(jnp.ones((2, 3)), jnp.zeros((2, 3)), jnp.zeros((2, 5), int), jnp.full((2, 5), 0.1))
    >>> out["loss"].shape
    (2, 5)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

__all__ = ["runner"]

LossFn = Callable[[Any, Any, Any], Any]


def _optimizer(kind: str) -> optax.GradientTransformation:
    """LR-free update direction: Adam as in ``torch.optim.Adam`` defaults, SGD with momentum 0.9, or plain SGD."""
    if kind == "adam":
        return optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8)
    if kind == "sgdm":
        return optax.trace(decay=0.9)
    if kind == "sgd":
        return optax.identity()
    raise ValueError(f"optimizer must be 'adam', 'sgdm' or 'sgd', got {kind!r}")


def _step(loss_fn: LossFn, opt: optax.GradientTransformation, project: Callable[[Any], Any] | None) -> Callable:
    """One update: ``(params, opt_state, lr, data, batch) -> (params, opt_state, loss)``."""

    def step(params: Any, opt_state: Any, lr: Any, data: Any, batch: Any) -> tuple[Any, Any, Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params, data, batch)
        direction, opt_state = opt.update(grads, opt_state, params)
        params = jax.tree_util.tree_map(lambda p, d: p - lr * d, params, direction)
        if project is not None:
            params = project(params)
        return params, opt_state, loss

    return step


def _lr_of(controller: Any, state: Any) -> Any:
    """The LR a controller state prescribes: ``controller.lr_of(state)`` where defined, else ``state.lr``."""
    return controller.lr_of(state) if hasattr(controller, "lr_of") else state.lr


def runner(
    loss_fn: LossFn,
    controller: Any = None,
    optimizer: str = "adam",
    project: Callable[[Any], Any] | None = None,
    eval_fn: Callable[[Any, Any], Any] | None = None,
    eval_every: int = 1,
) -> Callable[..., dict[str, Any]]:
    """``run(params0, data, batches, lr_input) -> {"loss", "lr", "eval", "final_params"}``, vmapped over runs.

    ``batches[r, t]`` is whatever ``loss_fn`` needs to pick step ``t``'s minibatch (anything, for full batch).
    Without ``controller``, ``lr_input[r, t]`` is the LR of step ``t``; with one, ``lr_input[r]`` is the
    initial LR (or peak, see ``lr_of``) and the controller sees the same loss the optimizer differentiated.
    ``eval_fn(params, data)`` (default: the step loss) is recorded every ``eval_every`` steps.
    The number of steps is ``batches.shape[1]``; it must be a multiple of ``eval_every``.
    """
    opt = _optimizer(optimizer)
    step = _step(loss_fn, opt, project)

    def one(params: Any, data: Any, batches: Any, lr_input: Any) -> dict[str, Any]:
        def inner(carry: Any, x: Any) -> tuple[Any, Any]:
            params, opt_state, cstate = carry
            batch, lr = (x, _lr_of(controller, cstate)) if controller is not None else x
            params, opt_state, loss = step(params, opt_state, lr, data, batch)
            if controller is not None:
                cstate = controller.update(cstate, loss)
            return (params, opt_state, cstate), (loss, lr)

        def outer(carry: Any, xs: Any) -> tuple[Any, Any]:
            carry, (loss, lr) = jax.lax.scan(inner, carry, xs)
            ev = eval_fn(carry[0], data) if eval_fn is not None else loss[-1]
            return carry, (loss, lr, ev)

        cstate = controller.init(lr=lr_input) if controller is not None else ()
        xs = batches if controller is not None else (batches, lr_input)
        xs = jax.tree_util.tree_map(lambda a: a.reshape((-1, eval_every, *a.shape[1:])), xs)
        (params, _, _), (loss, lr, ev) = jax.lax.scan(outer, (params, opt.init(params), cstate), xs)
        return {"loss": loss.reshape(-1), "lr": lr.reshape(-1), "eval": ev, "final_params": params}

    return jax.jit(jax.vmap(one))
