"""``peak_tournament`` on a torch model and optimizer: each candidate is a copy of their ``state_dict``s."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.optim import Optimizer

from lrsched.adapters._torch_groups import set_lr
from lrsched.tools.tournament import TournamentResult
from lrsched.tools.tournament import peak_tournament as _peak_tournament

__all__ = ["peak_tournament"]


def peak_tournament(
    model: torch.nn.Module,
    optimizer: Optimizer,
    step: Callable[[int], Any],
    budget: int,
    lr: float | None = None,
    **settings: Any,
) -> TournamentResult:
    """:func:`lrsched.peak_tournament` for torch: pick the peak LR by training candidates.

    ``step(t)`` makes one update on your minibatch ``t`` (forward, backward, ``optimizer.step()``) and returns its
    loss (a tensor or a number). The adapter sets the LRs before each update, runs each candidate from a copy of
    ``model.state_dict()`` and ``optimizer.state_dict()`` (round 1 keeps one copy per candidate until it is scored),
    and returns with ``model`` and ``optimizer`` in the winner's state, at the winner's LR; the result's ``winner``
    is that pair of state dicts, ``used`` the updates every candidate made (all charged to ``budget``), and the run
    goes on from minibatch ``result.next_batch`` with ``ControllerScheduler(optimizer, result.anneal())``.

    ``lr``: the rough LR (default: the first param group's). Groups built with different LRs keep their ratios:
    group ``g`` trains at ``lr_t * lr_g / lr_0`` (``lr_0``: the first group's LR when called). ``settings``:
    ``grid``, ``rounds``, ``keep``.

    Example:
        >>> import torch
        >>> from lrsched.adapters.torch import peak_tournament
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = torch.nn.Linear(4, 1)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.01)
        >>> x = torch.randn(64, 4)
        >>> y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
        >>> def step(t):
        ...     loss = torch.nn.functional.mse_loss(model(x), y)
        ...     opt.zero_grad()
        ...     loss.backward()
        ...     opt.step()
        ...     return loss.detach()
        >>> won = peak_tournament(model, opt, step, budget=1000)
        >>> won.lr, won.used, opt.param_groups[0]["lr"]  # 0.01 x 9 wins; 5 x 10 + 2 x 20 updates charged
        (0.09, 90, 0.09)
    """
    groups = optimizer.param_groups
    first = float(groups[0]["lr"])
    if lr is None and first <= 0.0:
        raise ValueError(
            f"peak_tournament: the optimizer's first param group has lr={first!r}; pass lr= (the rough LR, > 0)"
        )
    shares = [float(g["lr"]) / first if first > 0.0 else 1.0 for g in groups]

    def snapshot() -> tuple[dict[str, Any], dict[str, Any]]:
        return copy.deepcopy(model.state_dict()), copy.deepcopy(optimizer.state_dict())

    def restore(member: tuple[dict[str, Any], dict[str, Any]]) -> None:
        model.load_state_dict(member[0])
        optimizer.load_state_dict(member[1])

    def set_lrs(rate: float) -> None:
        for group, share in zip(optimizer.param_groups, shares):
            set_lr(group, rate * share)

    def train(member: Any, lrs: np.ndarray, start: int) -> tuple[Any, np.ndarray]:
        restore(member)
        losses = []
        for j, rate in enumerate(lrs):
            set_lrs(float(rate))
            losses.append(torch.as_tensor(step(start + j)).detach().reshape(()).to(torch.float64))
        return snapshot(), torch.stack(losses).cpu().numpy()  # one host sync per candidate and round

    won = _peak_tournament(train, snapshot(), first if lr is None else lr, budget, **settings)
    restore(won.winner)
    set_lrs(won.lr)
    return won
