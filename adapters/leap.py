"""LEAP-style learning-rate perturbation (after Liu et al., "Learning Rate Perturbation: A Generic Plugin of
Learning Rate Schedule towards Flatter Local Minima", arXiv 2208.11873).

LEAP is *not* an LR schedule: after each optimizer update it perturbs the **parameters** with Gaussian noise whose
scale follows the learning rate, ``theta <- theta + sigma * lr_t**exponent * N(0, I)`` (``exponent=1``: the noise
standard deviation is proportional to the LR, so it anneals with the schedule; ``exponent=0.5``: its variance
is, as in Langevin dynamics). Here it is an Optax transformation and a torch optimizer hook, each importing its
framework only when called. (:func:`lrsched.perturb` is something else: deterministic noise on a schedule's value.)
The paper's exact noise parameterisation could not be checked offline while this was written; ``sigma`` and
``exponent`` expose both common readings.

Optax::

    opt = optax.chain(optax.sgd(sched), leap_optax(sched, sigma=1e-3))   # noise added to the final updates

torch::

    handle = leap_torch_hook(optimizer, sigma=1e-3)   # after every optimizer.step(); handle.remove() stops it
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from lrsched.adapters._require import missing

__all__ = ["LeapState", "leap_optax", "leap_torch_hook"]


class LeapState(NamedTuple):
    count: Any  #: updates so far (int32)
    key: Any  #: PRNG key of the noise


def _check(sigma: float, exponent: float) -> None:
    if not (isinstance(sigma, (int, float)) and sigma >= 0):
        raise ValueError(f"leap: sigma must be a number >= 0, got {sigma!r}")
    if not (isinstance(exponent, (int, float)) and exponent >= 0):
        raise ValueError(f"leap: exponent must be a number >= 0, got {exponent!r}")


def leap_optax(learning_rate: float | Callable[[Any], Any], sigma: float, exponent: float = 1.0, seed: int = 0) -> Any:
    """An ``optax.GradientTransformation`` adding ``sigma * lr(count)**exponent * N(0, 1)`` to every update leaf.

    Put it last in a chain, after the transformation that scales by the LR. ``learning_rate`` is a number or a
    schedule of the update count (an lrsched schedule, an Optax schedule).
    """
    try:
        import jax
        import jax.numpy as jnp
        import optax
    except ImportError as err:
        raise missing("jax", err) from None
    _check(sigma, exponent)

    def lr_at(count: Any) -> Any:
        return learning_rate(count) if callable(learning_rate) else learning_rate

    def init(params: Any) -> LeapState:
        return LeapState(jnp.zeros((), jnp.int32), jax.random.PRNGKey(seed))

    def update(updates: Any, state: LeapState, params: Any = None) -> tuple[Any, LeapState]:
        key, sub = jax.random.split(state.key)
        scale = sigma * jnp.power(jnp.asarray(lr_at(state.count), jnp.float32), exponent)
        leaves, tree = jax.tree.flatten(updates)
        keys = jax.random.split(sub, max(len(leaves), 1))
        noisy = [u + (scale * jax.random.normal(k, u.shape)).astype(u.dtype) for u, k in zip(leaves, keys)]
        return jax.tree.unflatten(tree, noisy), LeapState(optax.safe_int32_increment(state.count), key)

    return optax.GradientTransformation(init, update)


def leap_torch_hook(optimizer: Any, sigma: float, exponent: float = 1.0, generator: Any = None) -> Any:
    """Register a post-step hook on a torch optimizer: after every ``step()`` each parameter of a group gets
    ``sigma * group['lr']**exponent * N(0, 1)`` noise. Returns the removable handle."""
    try:
        import torch
    except ImportError as err:
        raise missing("torch", err) from None
    _check(sigma, exponent)

    def hook(opt: Any, args: Any, kwargs: Any) -> None:
        with torch.no_grad():
            for group in opt.param_groups:
                scale = sigma * float(group["lr"]) ** exponent
                for p in group["params"]:
                    noise = torch.randn(p.shape, generator=generator, dtype=p.dtype, device=p.device)
                    p.add_(noise, alpha=scale)

    return optimizer.register_step_post_hook(hook)
