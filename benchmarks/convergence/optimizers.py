"""Parameter-free and schedule-free optimizers: what users pick instead of tuning an LR schedule.

Each is used at its authors' recommended settings (the ``scale`` argument multiplies the recommended LR;
the robustness protocol sets it to 1/10 ... 10). JAX: ``optax.contrib``. PyTorch: the authors' packages
(``prodigyopt``, ``dadaptation``, ``dog-optimizer``, ``mechanic-pytorch``, ``parameterfree`` for COCOB,
``schedulefree``), from the ``bench`` extra.

* ``prodigy``, ``dadapt_adamw``: LR 1 under the warmup (5%) + cosine schedule the task's schedules use (the
  Prodigy and D-Adaptation READMEs: keep your usual schedule with LR 1; Prodigy with ``safeguard_warmup``
  when warming up);
* ``mechanic``: the task's own update direction (Adam, or SGD for NMF) under warmup + cosine with peak 1,
  wrapped by Mechanic, which learns the scale (its README and Optax's docstring);
* ``dog``: LR 1, no schedule, its default initial step (``reps_rel`` 1e-6); the paper's iterate averaging is
  left out (Optax's DoG has none);
* ``cocob``: COCOB-Backprop, ``alpha`` 100, no LR: Optax's ``learning_rate`` scales the gradient before
  COCOB, which is invariant to that scale, and the PyTorch port has none; so it has no robustness runs;
* ``schedule_free_adamw``: its LR is a real step size, so it is tuned on the task's grid like a schedule's
  peak; warmup 5%, evaluated at its averaged iterate ``x`` (PyTorch: ``optimizer.eval()``).

Example:
    >>> import jax.numpy as jnp
    >>> from benchmarks.convergence.tasks import TASKS
    >>> make = prodigy(TASKS["softmax"])
    >>> state = make(1.0).init({"w": jnp.zeros(3)})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lrsched

__all__ = [
    "cocob",
    "cocob_torch",
    "dadapt_adamw",
    "dadapt_adamw_torch",
    "dog",
    "dog_torch",
    "mechanic",
    "mechanic_torch",
    "prodigy",
    "prodigy_torch",
    "schedule_free_adamw",
    "schedule_free_adamw_torch",
    "schedule_free_eval",
]


def _unit(task: Any) -> lrsched.Schedule:
    """Warmup (5%) + cosine with peak 1, its warmup starting at ``1/w`` rather than 0.

    D-Adaptation's estimate divides by the sum of the LR-weighted gradients so far; Optax's version has no
    guard for a first step at LR 0 (the PyTorch port skips it) and returns NaN from then on.
    """
    w = task.steps // 20
    return lrsched.warmup(lrsched.cosine_decay(1.0, task.steps - w), warmup_steps=w, init_value=1.0 / w)


def _scaled(schedule: lrsched.Schedule, scale: Any) -> Callable[[Any], Any]:
    """An Optax schedule: ``scale * schedule(count)`` (``scale`` may be traced)."""
    from lrsched.adapters.optax import as_optax_schedule

    base = as_optax_schedule(schedule)
    return lambda count: scale * base(count)


# -- JAX: task -> (scale -> optax.GradientTransformation) ---------------------------------------------------


def prodigy(task: Any) -> Callable[[Any], Any]:
    import optax

    return lambda scale: optax.contrib.prodigy(learning_rate=_scaled(_unit(task), scale), safeguard_warmup=True)


def dadapt_adamw(task: Any) -> Callable[[Any], Any]:
    import optax

    return lambda scale: optax.contrib.dadapt_adamw(learning_rate=_scaled(_unit(task), scale))


def mechanic(task: Any) -> Callable[[Any], Any]:
    import optax

    from benchmarks.convergence.engine import direction

    def make(scale: Any) -> Any:
        base = optax.chain(direction(task.optimizer), optax.scale_by_learning_rate(_scaled(_unit(task), scale)))
        return optax.contrib.mechanize(base)

    return make


def dog(task: Any) -> Callable[[Any], Any]:
    import optax

    return lambda scale: optax.contrib.dog(learning_rate=scale)


def cocob(task: Any) -> Callable[[Any], Any]:
    import optax

    return lambda scale: optax.contrib.cocob(learning_rate=scale)


def schedule_free_adamw(task: Any) -> Callable[[Any], Any]:
    import optax

    return lambda lr: optax.contrib.schedule_free_adamw(learning_rate=lr, warmup_steps=task.steps // 20)


def schedule_free_eval(opt_state: Any, params: Any) -> Any:
    """Schedule-free methods are evaluated at their averaged iterate ``x``, not at the gradient point ``y``."""
    import optax

    return optax.contrib.schedule_free_eval_params(opt_state, params)


# -- PyTorch: (task, scale) -> (params -> (optimizer, scheduler or None)), or None ---------------------------


def _with_schedule(task: Any, scale: float) -> Callable[[Any], Any]:
    from lrsched.adapters.torch import schedule_lr

    return lambda opt: schedule_lr(opt, lrsched.scale(_unit(task), scale))


def prodigy_torch(task: Any, scale: float) -> Callable[[Any], Any]:
    from prodigyopt import Prodigy

    def make(params: Any) -> tuple[Any, Any]:
        opt = Prodigy(params, lr=scale, safeguard_warmup=True)
        return opt, _with_schedule(task, scale)(opt)

    return make


def dadapt_adamw_torch(task: Any, scale: float) -> Callable[[Any], Any]:
    from dadaptation import DAdaptAdam

    def make(params: Any) -> tuple[Any, Any]:
        opt = DAdaptAdam(params, lr=scale, decouple=True)
        return opt, _with_schedule(task, scale)(opt)

    return make


def mechanic_torch(task: Any, scale: float) -> Callable[[Any], Any]:
    import torch
    from mechanic_pytorch import mechanize

    def make(params: Any) -> tuple[Any, Any]:
        opt = mechanize(torch.optim.Adam)(params, lr=scale)
        return opt, _with_schedule(task, scale)(opt)

    return make


def dog_torch(task: Any, scale: float) -> Callable[[Any], Any]:
    from dog import DoG

    return lambda params: (DoG(params, lr=scale), None)


def cocob_torch(task: Any, scale: float) -> Callable[[Any], Any]:
    from parameterfree import COCOB

    return lambda params: (COCOB(params), None)  # no LR argument: ``scale`` is always 1 (``scalable=False``)


def schedule_free_adamw_torch(task: Any, lr: float) -> Callable[[Any], Any]:
    from schedulefree import AdamWScheduleFree

    return lambda params: (AdamWScheduleFree(params, lr=lr, warmup_steps=task.steps // 20), None)
