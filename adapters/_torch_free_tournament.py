"""The schedule-free tournament for torch: an optimizer of the ``schedulefree`` package, its LR picked by
``lrsched.adapters.torch.peak_tournament`` (``lrsched.tools.free_tournament``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch

from lrsched.adapters._torch_tournament import peak_tournament
from lrsched.tools.tournament import TournamentResult

__all__ = ["free_tournament"]


def free_tournament(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: Callable[[int], Any],
    budget: int,
    lr: float | None = None,
) -> TournamentResult:
    """The schedule-free tournament (``lrsched.tools.free_tournament``) in torch.

    ``optimizer`` must be schedule-free: an optimizer of the ``schedulefree`` package
    (``schedulefree.AdamWScheduleFree(params, lr, betas=(0.9, 0.999))`` for Adam, ``schedulefree.SGDScheduleFree``
    for SGD, whose LR for an SGD with momentum ``mu`` is ``lrsched.tools.free_tournament.schedule_free_lr(lr, mu)``),
    with ``warmup_steps=0`` (the rounds warm up). ``step(t)`` makes one update on minibatch ``t`` and returns its loss,
    as for :func:`lrsched.adapters.torch.peak_tournament`, which this calls at its defaults after
    ``optimizer.train()``. It returns with ``model`` and ``optimizer`` in the winner's state at the winner's LR: keep
    training at that LR (constant, no scheduler) for ``budget - result.used`` updates from minibatch
    ``result.next_batch``, then call ``optimizer.eval()`` to put the average ``x`` in the model.

    Example:
        >>> import torch, schedulefree
        >>> from lrsched.adapters.torch import free_tournament
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Linear(4, 1)
        >>> opt = schedulefree.AdamWScheduleFree(model.parameters(), lr=0.01, warmup_steps=0)
        >>> x = torch.randn(64, 4)
        >>> y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        >>> def step(t):
        ...     loss = torch.nn.functional.mse_loss(model(x), y)
        ...     opt.zero_grad()
        ...     loss.backward()
        ...     opt.step()
        ...     return loss.detach()
        >>> won = free_tournament(model, opt, step, budget=1000)
        >>> won.used, opt.param_groups[0]["lr"] == won.lr
        (90, True)
        >>> for t in range(won.next_batch, won.next_batch + won.budget - won.used):
        ...     _ = step(t)
        >>> opt.eval()  # the average x, to evaluate and keep
        >>> float(torch.nn.functional.mse_loss(model(x), y).detach()) < 1e-3
        True
    """
    missing = [name for name in ("train", "eval") if not callable(getattr(optimizer, name, None))]
    if missing or any("train_mode" not in group for group in optimizer.param_groups):
        what = f"no {' or '.join(f'{name}()' for name in missing)}" if missing else "no 'train_mode' in its groups"
        raise TypeError(
            f"free_tournament: optimizer must be schedule-free (an optimizer of the schedulefree package, e.g. "
            f"schedulefree.AdamWScheduleFree); {type(optimizer).__name__} has {what}. For another optimizer use "
            "peak_tournament and its anneal()"
        )
    warm = [group.get("warmup_steps", 0) for group in optimizer.param_groups]
    if any(w for w in warm):
        raise ValueError(
            f"free_tournament: the optimizer warms up by itself (warmup_steps={warm[0]!r}); build it with "
            "warmup_steps=0: the tournament's rounds warm up"
        )
    cast(Any, optimizer).train()  # a schedulefree optimizer (checked above)
    return peak_tournament(model, optimizer, step, budget, lr)
