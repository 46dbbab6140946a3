"""The hand-fused Adam-HD floor of ``bench_controllers.py``: what the hypergradient costs when written by hand.

Adam-HD (Baydin et al., "Online Learning Rate Adaptation with Hypergradient Descent", ICLR 2018) with the
direction stored in the optimizer's state and ``h_t = g_t . d_{t-1}`` computed in the same pass as the step:
nothing is measured from the outside, nothing is stored that the step does not need. This is the floor against
which ``lrsched``'s adapters are measured (issue 20), not part of the library.

The sign conventions and the timing are ``lrsched.Hypergradient``'s under the adapters' default (``timing="next"``):
``d_{t-1}`` is the previous update per unit LR (``-u_{t-1}``, ``u`` Adam's normalised step), update ``t`` applies
``lr_{t-1}``, and then

* additive:        ``lr_t = lr_{t-1} - beta * h_t``
* multiplicative:  ``lr_t = lr_{t-1} * (1 - beta * h_t / (||g_t|| ||d_{t-1}||))`` (factor 1 while a norm is 0)

with ``d_{-1} = 0``. No clipping and no non-finite guard (the controller's defaults clip nothing either; its guard
only acts on a NaN/inf signal). ``tests/test_hand_fused_floor.py`` checks that the LR sequences and the parameters
equal ``controlled(optax.scale_by_adam(), Hypergradient(...))`` and ``torch.optim.Adam`` with
``ControllerScheduler``, so the floor is the same algorithm.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

__all__ = ["AdamHDState", "optax_adam_hd", "torch_adam_hd"]

MODES = ("additive", "multiplicative")


def _next_lr(lr: Any, h: Any, norms: Any, beta: float, mode: str, where: Any) -> Any:
    """The hypergradient rule on scalars (``where``: the array library's select)."""
    if mode == "additive":
        return lr - beta * h
    return lr * (1.0 - beta * h / where(norms > 0, norms, 1.0))


class AdamHDState(NamedTuple):
    """State of :func:`optax_adam_hd`."""

    adam: Any  #: ``optax.scale_by_adam``'s state: the constant-LR Adam's moments, unchanged
    direction: Any  #: ``u_{t-1}``, Adam's previous normalised step as it computed it (``d_{t-1} = -u_{t-1}``)
    lr: Any  #: the LR of the next update (float32 scalar)


def optax_adam_hd(init_lr: float, beta: float, mode: str = "additive") -> Any:
    """Adam-HD as one Optax transformation (the moments are ``optax.scale_by_adam``'s, the LR is hand-written).

    Update ``t`` reads ``u_{t-1}`` from the state in the same pass as the gradients, applies ``-lr_{t-1} u_t`` and
    stores ``u_t`` as Adam returned it; ``h_t = -g_t . u_{t-1}`` (and, multiplicative, both norms) are one
    reduction per leaf that XLA fuses with the step.
    """
    import jax
    import jax.numpy as jnp
    import optax

    if mode not in MODES:
        raise ValueError(f"optax_adam_hd: mode must be one of {MODES}, got {mode!r}")
    adam = optax.scale_by_adam()

    def init_fn(params: Any) -> AdamHDState:
        zeros = jax.tree_util.tree_map(lambda p: jnp.zeros_like(p, dtype=jnp.float32), params)
        return AdamHDState(adam.init(params), zeros, jnp.asarray(init_lr, jnp.float32))

    def update_fn(grads: Any, state: AdamHDState, params: Any = None, **extra: Any) -> tuple[Any, AdamHDState]:
        del params, extra
        u, adam_state = adam.update(grads, state.adam)
        pairs = list(zip(jax.tree_util.tree_leaves(grads), jax.tree_util.tree_leaves(state.direction)))
        h = -sum(jnp.vdot(g, d) for g, d in pairs)
        norms = None
        if mode == "multiplicative":
            norms = jnp.sqrt(sum(jnp.sum(g * g) for g, _ in pairs)) * jnp.sqrt(sum(jnp.sum(d * d) for _, d in pairs))
        lr = _next_lr(state.lr, h, norms, beta, mode, jnp.where).astype(jnp.float32)
        updates = jax.tree_util.tree_map(lambda x: -state.lr * x, u)
        return updates, AdamHDState(adam_state, u, lr)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@functools.cache
def _torch_optimizer() -> type:
    import torch

    def norm(tensors: list[Any]) -> Any:
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))

    class AdamHD(torch.optim.Optimizer):
        """Adam-HD as one torch optimizer of ``torch._foreach_*`` operations (one param group, dense gradients).

        The state holds ``exp_avg / denom`` per parameter (the tensor the step computes anyway; ``u_{t-1}`` is it
        times the scalar ``self.scale = 1 / bias_correction1_{t-1}``); ``h_t`` is read from it before the step
        replaces it. The LR is ``param_groups[0]["lr"]``, a float.
        """

        def __init__(self, params: Any, lr: float, beta: float, mode: str, betas: Any, eps: float) -> None:
            super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})
            if len(self.param_groups) != 1:
                raise ValueError(f"torch_adam_hd: one param group, got {len(self.param_groups)}")
            self.beta, self.mode, self.t, self.scale = beta, mode, 0, 0.0

        @torch.no_grad()
        def step(self, closure: Any = None) -> Any:
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            group = self.param_groups[0]
            params = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad for p in params]
            states = [self.state[p] for p in params]
            for p, s in zip(params, states):
                if not s:
                    s.update(exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p), u=torch.zeros_like(p))
            m, v, u = ([s[k] for s in states] for k in ("exp_avg", "exp_avg_sq", "u"))
            (b1, b2), eps, lr = group["betas"], group["eps"], group["lr"]
            h = -torch.stack([torch.vdot(g.view(-1), x.view(-1)) for g, x in zip(grads, u)]).sum() * self.scale
            norms = norm(grads) * norm(u) * self.scale if self.mode == "multiplicative" else None
            self.t += 1
            bc1, bc2 = 1 - b1**self.t, 1 - b2**self.t
            torch._foreach_lerp_(m, grads, 1 - b1)
            torch._foreach_mul_(v, b2)
            torch._foreach_addcmul_(v, grads, grads, 1 - b2)
            denom = torch._foreach_sqrt(v)
            torch._foreach_div_(denom, bc2**0.5)
            torch._foreach_add_(denom, eps)
            new_u = torch._foreach_div(m, denom)
            torch._foreach_add_(params, new_u, alpha=-lr / bc1)
            for s, x in zip(states, new_u):
                s["u"] = x
            group["lr"] = float(_next_lr(lr, h, norms, self.beta, self.mode, torch.where))
            self.scale = 1.0 / bc1
            return loss

    return AdamHD


def torch_adam_hd(
    params: Any, lr: float, beta: float, mode: str = "additive", betas: Any = (0.9, 0.999), eps: float = 1e-8
) -> Any:
    """Adam-HD as one ``torch.optim.Optimizer`` (``_foreach`` operations; one param group, dense gradients).

    Adam's moments as ``torch.optim.Adam`` computes them; ``h_t = -g_t . u_{t-1}`` is read from the stored step
    before the step replaces it, and the new LR is set after the step (``timing="next"``).
    """
    if mode not in MODES:
        raise ValueError(f"torch_adam_hd: mode must be one of {MODES}, got {mode!r}")
    return _torch_optimizer()(params, lr, beta, mode, betas, eps)
