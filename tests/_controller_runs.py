"""Runs of a controller the controller tests share: the pure ``init``/``update`` loop, and torch's
``ControllerScheduler`` driving SGD on a least-squares problem.

A helper module, not a test file (pytest collects ``test_*.py`` only); the test files import it as
``from _controller_runs import ...``. torch is imported only when its run is called, so a test module that imports
this one still collects without torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def pure_run(c: Any, stream: list[Any], state: Any = None) -> tuple[list[Any], Any]:
    """``c.lr`` after each ``c.update`` over ``stream`` (signal dicts, or bare losses), from ``state`` (by default
    ``c.init()``); returns those LRs and the final state."""
    state = c.init() if state is None else state
    lrs = []
    for signals in stream:
        state = c.update(state, signals)
        lrs.append(c.lr(state))
    return lrs, state


def torch_sgd_lrs(controller: Any, x: np.ndarray, y: np.ndarray, lr0: float, steps: int) -> list[float]:
    """The LR each of ``steps`` updates applied: SGD at ``lr0`` from zero weights on the mean squared error of
    ``x @ w`` against ``y`` (float64), under ``ControllerScheduler(opt, controller)`` stepped with each loss."""
    import torch

    from lrsched.adapters.torch import ControllerScheduler

    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    opt = torch.optim.SGD([w], lr=lr0)
    sched = ControllerScheduler(opt, controller)
    lrs = []
    for _ in range(steps):
        loss = ((xt @ w - yt) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step(loss.detach())
    return lrs
