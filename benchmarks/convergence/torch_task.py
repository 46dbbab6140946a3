"""Part 2's PyTorch task: a small CNN on the digits, scheduled through ``lrsched.adapters.torch``.

Time-based schedules run as ``schedule_lr(optimizer, schedule)`` (a ``LambdaLR`` giving absolute LRs),
GreedyLR as ``GreedyLRScheduler(optimizer, settings)`` fed each step's minibatch loss. Same split,
minibatch order per seed and metrics as the JAX tasks.

Example:
    >>> from lrsched.adapters.torch import schedule_lr
    >>> out = train_cnn(lambda opt: schedule_lr(opt, 1e-3), seed=0, steps=20)
    >>> len(out["loss"]), len(out["eval"])
    (20, 2)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.convergence.tasks import EVAL_EVERY, _digits, batches

__all__ = ["train_cnn"]


def _model() -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(16, 32, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(32 * 2 * 2, 10),
    )


def _tensors() -> dict[str, Any]:
    import torch

    d = _digits()
    img = {k: torch.tensor(d[k]).reshape(-1, 1, 8, 8) for k in ("x", "x_test")}
    return img | {k: torch.tensor(d[k], dtype=torch.long) for k in ("y", "y_test")}


def train_cnn(
    make_scheduler: Callable[[Any], Any], seed: int, steps: int = 400, eval_every: int = EVAL_EVERY
) -> dict[str, np.ndarray]:
    """One run: ``make_scheduler(optimizer)`` builds the LR scheduler; returns loss, lr, eval, acc arrays."""
    import torch

    from lrsched.adapters.torch import GreedyLRScheduler

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # tiny tensors: threads cost more than they give
    data, model = _tensors(), _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = make_scheduler(opt)
    order = torch.tensor(batches(np.random.default_rng([2, seed]), len(data["y"]), steps))
    xent = torch.nn.functional.cross_entropy
    loss_log, lr_log, eval_log = [], [], []
    for t in range(steps):
        idx = order[t]
        lr_log.append(opt.param_groups[0]["lr"])
        loss = xent(model(data["x"][idx]), data["y"][idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()
        sched.step(value) if isinstance(sched, GreedyLRScheduler) else sched.step()
        loss_log.append(value)
        if (t + 1) % eval_every == 0:
            with torch.no_grad():
                eval_log.append(xent(model(data["x"]), data["y"]).item())
    with torch.no_grad():
        acc = (model(data["x_test"]).argmax(1) == data["y_test"]).float().mean().item()
    return {"loss": np.array(loss_log), "lr": np.array(lr_log), "eval": np.array(eval_log), "acc": np.array(acc)}
