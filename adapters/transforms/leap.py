"""LEAP, learning-rate perturbation (Liu, Fu, Du, Zhang, Yu, Han & Zhang, "Learning Rate Perturbation: A Generic
Plugin of Learning Rate Schedule towards Flatter Local Minima", CIKM 2022, arXiv 2208.11873).

LEAP is *not* an LR schedule: it runs on top of any schedule and optimizer and makes every update use a randomly
perturbed learning rate. Here each coordinate of each parameter gets its own learning rate at every update,

``eta_{t,i} = eta_t * (1 + sigma * xi_{t,i})``,  ``xi_{t,i} ~ N(0, 1)`` independent,

so the update ``u_t = -eta_t d_t`` of the optimizer (``d_t`` its direction: the gradient for SGD, the
preconditioned momentum for Adam) becomes ``u_t * (1 + sigma * xi_t)``: the added noise ``sigma * xi_t * u_t`` has a
scale that follows both the LR schedule and the update, so it vanishes where the gradient does (unlike isotropic
parameter noise). ``sigma`` is relative: ``sigma = 0`` is the plain optimizer; for ``sigma`` near 1 or above a
coordinate's learning rate is sometimes negative.

What was checked and what is a reading: the paper's abstract (and its LaTeX source's abstract) says LEAP "introduc[es]
a certain perturbation to the learning rate" and that training then "exponentially favors flat minima"; a summary of
the paper says the perturbation is Gaussian. Noise shaped by the (stochastic) gradient, as here, resembles SGD's own
noise, which diffusion theory (Xie et al., arXiv 2002.03495) finds favours flat minima exponentially, where white
noise does so only polynomially.
The paper's exact noise parameterisation (per coordinate or one draw per step, a relative ``sigma`` as here or an
absolute one, ``eta_t + sigma * xi``) could not be read offline: per-coordinate and relative is this module's
reading. (:func:`lrsched.perturb` is something else: deterministic noise on a schedule's value.)

Optax (put it last, after the transformation that scales by the LR)::

    opt = optax.chain(optax.sgd(sched), leap_optax(sigma=0.5))

torch (a pre-step hook keeps a copy of the parameters, a post-step hook rescales each coordinate's step)::

    handle = leap_torch_hook(optimizer, sigma=0.5)   # handle.remove() stops it
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from lrsched.adapters._require import missing

__all__ = ["LeapState", "leap_optax", "leap_torch_hook"]


class LeapState(NamedTuple):
    key: Any  #: PRNG key of the noise


def _check(sigma: float) -> None:
    if not (isinstance(sigma, (int, float)) and not isinstance(sigma, bool) and math.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"leap: sigma must be a finite number >= 0, got {sigma!r}")


def leap_optax(sigma: float, seed: int = 0) -> Any:
    """An ``optax.GradientTransformation`` that multiplies every coordinate of every update leaf by
    ``1 + sigma * N(0, 1)`` (a fresh draw per coordinate and update): each coordinate's learning rate becomes
    ``eta_t * (1 + sigma * xi)``. Put it last in a chain, after the transformation that scales by the LR.

    One reading of LEAP, not the paper's checked parameterisation: per-coordinate noise with a relative ``sigma``.
    Whether the paper draws per coordinate or once per step, and whether its ``sigma`` is relative or absolute
    (``eta_t + sigma * xi``), could not be read offline (see the module docstring).

    Example::

        opt = optax.chain(optax.sgd(lrsched.cosine_decay(0.1, 1000)), leap_optax(sigma=0.5))
    """
    try:
        import jax
        import optax
    except ImportError as err:
        raise missing("jax", err) from None
    _check(sigma)

    def init(params: Any) -> LeapState:
        return LeapState(jax.random.PRNGKey(seed))

    def update(updates: Any, state: LeapState, params: Any = None) -> tuple[Any, LeapState]:
        key, sub = jax.random.split(state.key)
        leaves, tree = jax.tree.flatten(updates)
        keys = jax.random.split(sub, max(len(leaves), 1))
        noisy = [u * (1 + sigma * jax.random.normal(k, u.shape, u.dtype)) for u, k in zip(leaves, keys)]
        return jax.tree.unflatten(tree, noisy), LeapState(key)

    return optax.GradientTransformation(init, update)


class _Handles:
    """Both hooks of :func:`leap_torch_hook`; ``remove()`` removes them."""

    def __init__(self, *handles: Any) -> None:
        self._handles = handles

    def remove(self) -> None:
        for h in self._handles:
            h.remove()


def leap_torch_hook(optimizer: Any, sigma: float, generator: Any = None) -> Any:
    """Hook LEAP into a torch optimizer: after every ``step()`` each parameter coordinate's step
    ``delta = p_after - p_before`` becomes ``delta * (1 + sigma * N(0, 1))``. A pre-step hook keeps a copy of the
    parameters that have a gradient (memory: one copy of them). Returns a handle with ``remove()``.

    One reading of LEAP, not the paper's checked parameterisation: per-coordinate noise with a relative ``sigma``.
    Whether the paper draws per coordinate or once per step, and whether its ``sigma`` is relative or absolute
    (``eta_t + sigma * xi``), could not be read offline (see the module docstring).

    Example::

        handle = leap_torch_hook(torch.optim.SGD(model.parameters(), lr=0.1), sigma=0.5)
    """
    try:
        import torch
    except ImportError as err:
        raise missing("torch", err) from None
    _check(sigma)
    before: dict[int, Any] = {}

    def pre(opt: Any, args: Any, kwargs: Any) -> None:
        before.clear()
        for group in opt.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    before[id(p)] = p.detach().clone()

    def post(opt: Any, args: Any, kwargs: Any) -> None:
        with torch.no_grad():
            for group in opt.param_groups:
                for p in group["params"]:
                    old = before.get(id(p))
                    if old is None:
                        continue
                    noise = torch.randn(p.shape, generator=generator, dtype=p.dtype, device=p.device)
                    p.add_((p - old) * noise, alpha=sigma)
        before.clear()

    return _Handles(optimizer.register_step_pre_hook(pre), optimizer.register_step_post_hook(post))
