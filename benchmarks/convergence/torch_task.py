"""Part 2's PyTorch task: a small CNN on the digits, scheduled through ``lrsched.adapters.torch``.

Time-based schedules run as ``schedule_lr(optimizer, schedule)`` (a ``LambdaLR`` giving absolute LRs),
controllers as ``ControllerScheduler(optimizer, controller)`` (``GreedyLRScheduler`` for GreedyLR) fed each
step's minibatch loss (the adapter measures any other signal the controller declares), ``lrsched.LRTuner``
through :class:`TunerScheduler` (this loop provides its look-ahead), and whole optimizers (the
parameter-free ports) through ``make_optimizer``. Same split, minibatch order per seed and metrics as the
JAX tasks.

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

__all__ = ["TunerScheduler", "train_cnn"]


class TunerScheduler:
    """``lrsched.LRTuner`` on a torch optimizer: ``explore_if_due(lookahead)`` before an update, ``step(loss)`` after.

    ``lookahead(lr, steps) -> loss`` is the training loop's (see :func:`train_cnn`): it trains ``steps``
    updates at ``lr`` from a snapshot, measures a loss, and restores the snapshot.

    Example:
        >>> import torch, lrsched
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = TunerScheduler(opt, lrsched.LRTuner(init_lr=0.1, factors=(0.5, 1.0, 2.0)))
        >>> sched.explore_if_due(lambda lr, steps: abs(lr - 0.2))
        >>> opt.param_groups[0]["lr"]
        0.2
    """

    def __init__(self, optimizer: Any, tuner: Any) -> None:
        self.optimizer, self.tuner = optimizer, tuner
        self.state = tuner.init()
        self._apply()

    def _apply(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = float(self.state.lr)

    def explore_if_due(self, lookahead: Callable[[float, int], float]) -> None:
        if self.tuner.due(self.state):
            self.state = self.tuner.explore(self.state, lookahead)
            self._apply()

    def step(self, value: float) -> None:
        self.state = self.tuner.update(self.state, value)
        self._apply()


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


def _lookahead(model: Any, opt: Any, data: dict[str, Any], order: Any, t: int) -> Callable[[float, int], float]:
    """LRTuner's look-ahead at update ``t``: train on the next ``steps`` minibatches of the run's own order at
    ``lr`` from a snapshot of model and optimizer, return the loss on the minibatch after them, restore."""
    import copy

    import torch

    xent = torch.nn.functional.cross_entropy

    def lookahead(lr: float, steps: int) -> float:
        saved = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
        for group in opt.param_groups:
            group["lr"] = lr
        for k in range(steps):
            idx = order[(t + k) % len(order)]
            loss = xent(model(data["x"][idx]), data["y"][idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            idx = order[(t + steps) % len(order)]
            out = xent(model(data["x"][idx]), data["y"][idx]).item()
        model.load_state_dict(saved[0])
        opt.load_state_dict(saved[1])
        return out

    return lookahead


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
        if isinstance(sched, TunerScheduler):
            sched.explore_if_due(_lookahead(model, opt, data, order, t))
        lr_log.append(opt.param_groups[0].get("lr", np.nan))
        loss = xent(model(data["x"][idx]), data["y"][idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        value = loss.item()
        if sched is not None:  # controllers (plateau-style schedulers, LRTuner) take the loss
            monitored = isinstance(sched, (torch.optim.lr_scheduler.ReduceLROnPlateau, TunerScheduler))
            sched.step(value) if monitored else sched.step()
        loss_log.append(value)
        if (t + 1) % eval_every == 0:
            eval_log.append(_evaluate(model, opt, lambda: xent(model(data["x"]), data["y"]).item()))
    acc = _evaluate(model, opt, lambda: (model(data["x_test"]).argmax(1) == data["y_test"]).float().mean().item())
    return {"loss": np.array(loss_log), "lr": np.array(lr_log), "eval": np.array(eval_log), "acc": np.array(acc)}
