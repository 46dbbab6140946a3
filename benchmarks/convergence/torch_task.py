"""Part 2's PyTorch task: a small CNN on the digits, scheduled through ``lrsched.adapters.torch``.

Time-based schedules run as ``schedule_lr(optimizer, schedule)`` (a ``LambdaLR`` giving absolute LRs),
GreedyLR as ``GreedyLRScheduler(optimizer, settings)`` fed each step's minibatch loss, and whole optimizers
(the parameter-free ports) through ``make_optimizer``. Same split, minibatch order per seed and metrics as
the JAX tasks.

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


def _adam(make_scheduler: Callable[[Any], Any]) -> Callable[[Any], tuple[Any, Any]]:
    import torch

    def make(params: Any) -> tuple[Any, Any]:
        opt = torch.optim.Adam(params, lr=1e-3)
        return opt, make_scheduler(opt)

    return make


def _evaluate(model: Any, opt: Any, fn: Callable[[], Any]) -> Any:
    """``fn()`` without gradients, with a schedule-free optimizer switched to its averaged weights meanwhile."""
    import torch

    switch = hasattr(opt, "eval") and hasattr(opt, "train")
    if switch:
        opt.eval()
    with torch.no_grad():
        out = fn()
    if switch:
        opt.train()
    return out


def train_cnn(
    make_scheduler: Callable[[Any], Any] | None,
    seed: int,
    steps: int = 400,
    eval_every: int = EVAL_EVERY,
    make_optimizer: Callable[[Any], tuple[Any, Any]] | None = None,
) -> dict[str, np.ndarray]:
    """One run: ``make_scheduler(optimizer)`` builds the LR scheduler of Adam; returns loss, lr, eval, acc arrays.

    Or ``make_optimizer(parameters) -> (optimizer, scheduler or None)`` builds both (``make_scheduler`` unused).
    """
    import torch

    from lrsched.adapters.torch import GreedyLRScheduler

    torch.manual_seed(seed)
    torch.set_num_threads(1)  # tiny tensors: threads cost more than they give
    data, model = _tensors(), _model()
    make = make_optimizer if make_optimizer is not None else _adam(make_scheduler)
    opt, sched = make(model.parameters())
    if hasattr(opt, "train"):
        opt.train()
    order = torch.tensor(batches(np.random.default_rng([2, seed]), len(data["y"]), steps))
    xent = torch.nn.functional.cross_entropy
    loss_log, lr_log, eval_log = [], [], []
    for t in range(steps):
        idx = order[t]
        lr_log.append(opt.param_groups[0].get("lr", np.nan))
        loss = xent(model(data["x"][idx]), data["y"][idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()
        if sched is not None:
            sched.step(value) if isinstance(sched, GreedyLRScheduler) else sched.step()
        loss_log.append(value)
        if (t + 1) % eval_every == 0:
            eval_log.append(_evaluate(model, opt, lambda: xent(model(data["x"]), data["y"]).item()))
    acc = _evaluate(model, opt, lambda: (model(data["x_test"]).argmax(1) == data["y_test"]).float().mean().item())
    return {"loss": np.array(loss_log), "lr": np.array(lr_log), "eval": np.array(eval_log), "acc": np.array(acc)}
