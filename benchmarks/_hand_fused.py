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

    from lrsched.adapters.torch import DirectionAdam

    def norm(tensors: list[Any]) -> Any:
        return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))

    class AdamHD(DirectionAdam):
        """Adam-HD as one torch optimizer (one param group, dense gradients): ``DirectionAdam``'s step, which
        keeps ``exp_avg / denom`` per parameter (the tensor its ``torch._foreach_*`` step computes anyway;
        ``u_{t-1}`` is it times ``1 / bias_correction1_{t-1}``), with the rule written into it: ``h_t`` is read
        from the kept tensors before the step replaces them, and the LR set after it. No scheduler, no hooks.
        The LR is ``param_groups[0]["lr"]``, a float.
        """

        def __init__(self, params: Any, lr: float, beta: float, mode: str, betas: Any, eps: float) -> None:
            super().__init__(params, lr=lr, betas=betas, eps=eps)
            if len(self.param_groups) != 1:
                raise ValueError(f"torch_adam_hd: one param group, got {len(self.param_groups)}")
            self.beta, self.mode = beta, mode

        @torch.no_grad()
        def step(self, closure: Any = None) -> Any:
            loss = None
            if closure is not None:
                with torch.enable_grad():
                    loss = closure()
            group = self.param_groups[0]
            lr = group["lr"]
            params = [p for p in group["params"] if p.grad is not None]
            held = [self.state[p] for p in params]
            if held and "direction" in held[0]:  # d_{t-1} = -scale * u_{t-1}; at t = 0 it is 0: h = 0, lr stays
                grads, u = [p.grad for p in params], [s["direction"] for s in held]
                scale = 1.0 / (1.0 - group["betas"][0] ** float(held[0]["step"]))
                h = -torch.stack([torch.vdot(g.view(-1), x.view(-1)) for g, x in zip(grads, u)]).sum() * scale
                norms = norm(grads) * norm(u) * scale if self.mode == "multiplicative" else None
                lr = _next_lr(lr, h, norms, self.beta, self.mode, torch.where)
            super().step()
            group["lr"] = float(lr)
            return loss

    return AdamHD


def torch_adam_hd(
    params: Any, lr: float, beta: float, mode: str = "additive", betas: Any = (0.9, 0.999), eps: float = 1e-8
) -> Any:
    """Adam-HD as one ``torch.optim.Optimizer`` (``_foreach`` operations; one param group, dense gradients).

    The step is ``lrsched.adapters.torch.DirectionAdam``'s (Adam's moments as ``torch.optim.Adam`` computes them,
    the normalised step kept); ``h_t = -g_t . u_{t-1}`` is read from the kept step before the step replaces it,
    and the new LR is set after the step (``timing="next"``).
    """
    if mode not in MODES:
        raise ValueError(f"torch_adam_hd: mode must be one of {MODES}, got {mode!r}")
    return _torch_optimizer()(params, lr, beta, mode, betas, eps)
