"""The training loop every JAX benchmark run goes through: jitted, vmapped over runs, one ``lax.scan`` per run.

A run is ``steps`` optimizer updates. At step ``t`` the optimizer uses ``lr[t]``; the loss it
records is the loss of the parameters *before* that update (the PyTorch convention: compute
loss, backward, ``optimizer.step()``, then ``scheduler.step()``). Three kinds of LR policy:

* ``scheduled``: the LR of every step is known in advance (``schedule(np.arange(steps))``),
  so all time-based schedules of one problem share one compiled function;
* ``controlled``: a GreedyLR-style controller fed the loss after each step
  (``state = ctrl.update(state, loss)``, next LR ``state.lr``), traced into the same scan; a controller
  that declares signals besides the loss (``lrsched.controllers.SIGNALS``: gradient and parameter norms,
  the hypergradient ``g_t . d_{t-1}``) runs through ``lrsched.adapters.optax.controlled``, which computes
  exactly those signals, with each run's starting LR passed (traced) as ``init_lr``;
* ``optimizer``: a whole Optax optimizer that sets its own step size (the parameter-free ones),
  built from a per-run scale (its learning rate) by ``make(scale)``; see :func:`optax_runner`.

The first two multiply an LR-free update direction (Adam, SGD with momentum, or plain SGD) by the LR.

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
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import optax

__all__ = ["direction", "optax_runner", "runner"]

LossFn = Callable[[Any, Any, Any], Any]


def direction(kind: str) -> optax.GradientTransformation:
    """LR-free update direction: Adam as in ``torch.optim.Adam`` defaults, SGD with momentum 0.9, or plain SGD.

    ``"adam_clip"`` clips the gradient's global norm at 1 before Adam (the language-model task).
    """
    if kind == "adam":
        return optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8)
    if kind == "adam_clip":
        return optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam(b1=0.9, b2=0.999, eps=1e-8))
    if kind == "sgdm":
        return optax.trace(decay=0.9)
    if kind == "sgd":
        return optax.identity()
    raise ValueError(f"optimizer must be 'adam', 'adam_clip', 'sgdm' or 'sgd', got {kind!r}")


def _lr_of(controller: Any, state: Any) -> Any:
    """The LR a controller state prescribes: ``controller.lr_of(state)`` where defined, else ``state.lr``."""
    return controller.lr_of(state) if hasattr(controller, "lr_of") else state.lr


@dataclass(frozen=True)
class _Scheduled:
    """``lr_input[r, t]`` is the LR of step ``t``."""

    direction: Any
    per_step = True

    def init(self, params: Any, lr: Any) -> Any:
        return self.direction.init(params)

    def update(self, grads: Any, state: Any, params: Any, loss: Any, lr: Any) -> tuple[Any, Any, Any]:
        d, state = self.direction.update(grads, state, params)
        return jax.tree_util.tree_map(lambda x: -lr * x, d), state, lr

    def eval_params(self, state: Any, params: Any) -> Any:
        return params


@dataclass(frozen=True)
class _Controlled:
    """``lr_input[r]`` initialises the controller; the controller sees the loss the optimizer differentiated."""

    direction: Any
    controller: Any
    per_step = False

    def init(self, params: Any, lr: Any) -> Any:
        return self.direction.init(params), self.controller.init(lr=lr)

    def update(self, grads: Any, state: Any, params: Any, loss: Any, _: Any) -> tuple[Any, Any, Any]:
        lr = _lr_of(self.controller, state[1])
        d, dstate = self.direction.update(grads, state[0], params)
        updates = jax.tree_util.tree_map(lambda x: -lr * x, d)
        return updates, (dstate, self.controller.update(state[1], loss)), lr

    def eval_params(self, state: Any, params: Any) -> Any:
        return params


@dataclass(frozen=True)
class _Adapted:
    """A controller reading more than the loss, through ``lrsched.adapters.optax.controlled`` (its signals).

    ``lr_input[r]`` is run ``r``'s starting LR (traced: every run of a batch shares one compiled function);
    the LR logged is the one the update applied.
    """

    direction: Any
    controller: Any
    per_step = False

    def _tx(self, lr: Any) -> Any:
        from lrsched.adapters.optax import controlled

        return controlled(self.direction, self.controller, init_lr=lr)

    def init(self, params: Any, lr: Any) -> Any:
        return self._tx(lr).init(params), lr

    def update(self, grads: Any, state: Any, params: Any, loss: Any, _: Any) -> tuple[Any, Any, Any]:
        from lrsched.adapters.optax import greedy_lr_of

        lr = greedy_lr_of(state[0])
        updates, inner = self._tx(state[1]).update(grads, state[0], params, value=loss)
        return updates, (inner, state[1]), lr

    def eval_params(self, state: Any, params: Any) -> Any:
        return params


def _policy(direction: Any, controller: Any) -> Any:
    """The LR policy of a controller: fed the loss only (``_Controlled``), or its declared signals (``_Adapted``)."""
    if set(getattr(controller, "signals", ("loss",))) <= {"loss"}:
        return _Controlled(direction, controller)
    return _Adapted(direction, controller)


@dataclass(frozen=True)
class _Optimizer:
    """``lr_input[r]`` is the scale ``make`` builds run ``r``'s optimizer from; it logs no LR (NaN)."""

    make: Callable[[Any], Any]
    eval_fn: Callable[[Any, Any], Any] | None
    per_step = False

    def init(self, params: Any, scale: Any) -> Any:
        return self.make(scale).init(params), scale

    def update(self, grads: Any, state: Any, params: Any, loss: Any, _: Any) -> tuple[Any, Any, Any]:
        opt = optax.with_extra_args_support(self.make(state[1]))
        updates, ostate = opt.update(grads, state[0], params, value=loss)
        return updates, (ostate, state[1]), jnp.full((), jnp.nan)

    def eval_params(self, state: Any, params: Any) -> Any:
        return params if self.eval_fn is None else self.eval_fn(state[0], params)


def _compile(
    loss_fn: LossFn,
    policy: Any,
    project: Callable[[Any], Any] | None,
    eval_fn: Callable[[Any, Any], Any] | None,
    eval_every: int,
    data_axis: int | None,
) -> Callable[..., dict[str, Any]]:
    proj = project if project is not None else (lambda p: p)

    def one(params: Any, data: Any, batches: Any, lr_input: Any) -> dict[str, Any]:
        def inner(carry: Any, x: Any) -> tuple[Any, Any]:
            params, state = carry
            batch, lr_t = x if policy.per_step else (x, None)
            loss, grads = jax.value_and_grad(loss_fn)(params, data, batch)
            updates, state, lr = policy.update(grads, state, params, loss, lr_t)
            params = proj(jax.tree_util.tree_map(lambda p, u: p + u, params, updates))
            return (params, state), (loss, lr)

        def outer(carry: Any, xs: Any) -> tuple[Any, Any]:
            carry, (loss, lr) = jax.lax.scan(inner, carry, xs)
            ev = eval_fn(proj(policy.eval_params(carry[1], carry[0])), data) if eval_fn is not None else loss[-1]
            return carry, (loss, lr, ev)

        state = policy.init(params, None if policy.per_step else lr_input)
        xs = (batches, lr_input) if policy.per_step else batches
        xs = jax.tree_util.tree_map(lambda a: a.reshape((-1, eval_every, *a.shape[1:])), xs)
        (params, state), (loss, lr, ev) = jax.lax.scan(outer, (params, state), xs)
        final = proj(policy.eval_params(state, params))
        return {"loss": loss.reshape(-1), "lr": lr.reshape(-1), "eval": ev, "final_params": final}

    return jax.jit(jax.vmap(one, in_axes=(0, data_axis, 0, 0)))


def runner(
    loss_fn: LossFn,
    controller: Any = None,
    optimizer: str = "adam",
    project: Callable[[Any], Any] | None = None,
    eval_fn: Callable[[Any, Any], Any] | None = None,
    eval_every: int = 1,
    data_axis: int | None = 0,
) -> Callable[..., dict[str, Any]]:
    """``run(params0, data, batches, lr_input) -> {"loss", "lr", "eval", "final_params"}``, vmapped over runs.

    ``batches[r, t]`` is whatever ``loss_fn`` needs to pick step ``t``'s minibatch (anything, for full batch).
    Without ``controller``, ``lr_input[r, t]`` is the LR of step ``t``; with one, ``lr_input[r]`` is the
    initial LR (or peak, see ``lr_of``) and the controller sees the same loss the optimizer differentiated.
    ``eval_fn(params, data)`` (default: the step loss) is recorded every ``eval_every`` steps.
    The number of steps is ``batches.shape[1]``; it must be a multiple of ``eval_every``.
    ``data_axis=None`` shares one ``data`` among all runs (no leading run axis).
    """
    d = direction(optimizer)
    policy = _Scheduled(d) if controller is None else _policy(d, controller)
    return _compile(loss_fn, policy, project, eval_fn, eval_every, data_axis)


def optax_runner(
    loss_fn: LossFn,
    make: Callable[[Any], Any],
    eval_params: Callable[[Any, Any], Any] | None = None,
    project: Callable[[Any], Any] | None = None,
    eval_fn: Callable[[Any, Any], Any] | None = None,
    eval_every: int = 1,
    data_axis: int | None = 0,
) -> Callable[..., dict[str, Any]]:
    """As :func:`runner`, for a whole Optax optimizer: ``lr_input[r]`` is the scale of run ``r``.

    ``make(scale)`` builds the optimizer (``scale`` is a traced scalar, so every run of a batch shares one
    compiled function); the update it returns is added to the parameters as is (Optax's sign convention).
    ``eval_params(opt_state, params)`` gives the parameters to evaluate where they are not the iterate
    (schedule-free methods); ``project`` is applied to both.

    Example:
        >>> import numpy as np, jax.numpy as jnp, optax
        >>> loss = lambda p, data, batch: jnp.sum((p - data) ** 2)
        >>> run = optax_runner(loss, lambda scale: optax.sgd(0.1 * scale))
        >>> out = run(jnp.ones((2, 3)), jnp.zeros((2, 3)), jnp.zeros((2, 5), int), jnp.ones(2))
        >>> bool(out["loss"][0, -1] < out["loss"][0, 0])
        True
    """
    return _compile(loss_fn, _Optimizer(make, eval_params), project, eval_fn, eval_every, data_axis)
