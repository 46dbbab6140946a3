"""The training loops the framework tests share: the tiny model and data, the transformers ``Trainer`` and Lightning.

A helper module, not a test file (pytest collects ``test_*.py`` only); the test files import it as
``from _loops import ...`` (``tests/`` is on the path under pytest and in the subprocess children of
``tests/test_controller_matrix.py``). Each loop takes what a test records as small callbacks: the set-up is here,
what is recorded stays in the test.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

from lrsched.adapters.torch import ControllerScheduler


# -- the tiny model and data -------------------------------------------------------------------------------------------
def tiny_model() -> Any:
    """A 4-6-1 tanh network, seeded: every call returns the same weights."""
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 1))


def tiny_data() -> tuple[Any, Any]:
    """64 samples ``x`` (4 features) and ``y = sin(sum(x))``, from a fixed generator."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 4, generator=g)
    return x, torch.sin(x.sum(1, keepdim=True))


def tiny_batch(t: int) -> tuple[Any, Any]:
    """The ``t``-th batch of 8 of :func:`tiny_data`, cycling."""
    x, y = tiny_data()
    i = (t * 8) % 64
    return x[i : i + 8], y[i : i + 8]


def _loss(net: Any, x: Any, y: Any) -> Any:
    return torch.nn.functional.mse_loss(net(x), y)


# -- a scheduled loop on the tiny model --------------------------------------------------------------------------------
class ScheduledRun(NamedTuple):
    """What :func:`scheduled_loop` returns."""

    final: np.ndarray  #: the parameters after the run (float64)
    lrs: list[list[float]]  #: each update's group LRs
    init: np.ndarray  #: the parameters before it
    state: dict[str, Any] | None  #: the scheduler's ``state_dict()`` at the end (None without a controller)


def scheduled_loop(
    make: Any,
    controller: Any = None,
    *,
    steps: int,
    lr: float,
    groups: bool = False,
    skip: bool = False,
    closure: bool = False,
    timing: str = "next",
    maximize: bool = False,
    **options: Any,
) -> ScheduledRun:
    """``steps`` updates of :func:`tiny_model` on :func:`tiny_data` by ``make(params, lr=lr, **options)``,
    with ``ControllerScheduler(opt, controller)`` stepped after each update when ``controller`` is given.
    ``groups``: two groups at ``lr`` and ``0.3 * lr`` (``lr_mode="relative"``); ``skip``: the first layer's bias
    has no gradient at every third update (torch's optimizers leave it, and its state, alone there);
    ``maximize``: the optimizer maximises the negated loss. The tests of optimizers that hold their direction use
    it (``test_direction_adam.py``, ``test_momentum_direction.py``)."""
    model = tiny_model()
    init = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
    x, y = tiny_data()
    params: Any = model.parameters()
    if groups:
        params = [{"params": model[0].parameters(), "lr": lr}, {"params": model[2].parameters(), "lr": 0.3 * lr}]
    opt = make(params, lr=lr, **({"maximize": True} if maximize else {}), **options)
    sched = None
    if controller is not None:
        sched = ControllerScheduler(opt, controller, lr_mode="relative" if groups else None, timing=timing)
    lrs = []
    for t in range(steps):

        def loss_fn(t: int = t) -> Any:
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            (-loss if maximize else loss).backward()
            if skip and t % 3 == 0:
                model[0].bias.grad = None
            return loss

        lrs.append([float(group["lr"]) for group in opt.param_groups])
        if closure:
            loss = opt.step(loss_fn)
        else:
            loss = loss_fn()
            opt.step()
        if sched is not None:
            sched.step(float(loss.detach()))
    final = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    return ScheduledRun(
        final.double().numpy(), lrs, init.double().numpy(), None if sched is None else sched.state_dict()
    )


# -- the transformers Trainer: 12 updates of 2 micro-batches of 4, an evaluation every 3 updates ---------------------
class TrainerModel(torch.nn.Module):
    """What the Trainer trains: :func:`tiny_model` as ``net``, returning the loss from ``x`` and ``labels``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tiny_model()

    def forward(self, x: Any, labels: Any) -> dict[str, Any]:
        return {"loss": _loss(self.net, x, labels)}


def trainer_data(samples: int) -> list[dict[str, Any]]:
    """The first ``samples`` of :func:`tiny_data` as the Trainer's dataset: ``{"x": ..., "labels": ...}`` rows."""
    x, y = tiny_data()
    return [{"x": x[i], "labels": y[i]} for i in range(samples)]


def trainer_train(
    out: str,
    optimizer: Callable[[Any], Any],
    scheduler: Callable[[Any], Any],
    *,
    samples: int,
    before_update: Callable[[Any], None],
    on_evaluate: Callable[[int, dict[str, float]], None] | None = None,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    resume: str | None = None,
    **options: Any,
) -> Any:
    """``transformers.Trainer.train`` of :func:`tiny_model` on the first ``samples`` of :func:`tiny_data` (the first
    16 for evaluation), with ``optimizers=(opt, scheduler(opt))``, ``opt = optimizer(net)``; returns the net.

    ``before_update(opt)`` runs before each update (a pre-step hook registered after the scheduler's);
    ``on_evaluate(global_step, metrics)`` and ``on_log(global_step, logs)`` at the Trainer's evaluations and logs.
    ``options`` add to the ``TrainingArguments`` (saving, logging, the evaluation batch size); ``resume``:
    ``resume_from_checkpoint``."""
    import transformers

    data = trainer_data(samples)
    model = TrainerModel()
    opt = optimizer(model.net)
    sched = scheduler(opt)
    opt.register_step_pre_hook(lambda o, args, kwargs: before_update(o))

    class Observe(transformers.TrainerCallback):
        def on_evaluate(self, args: Any, state: Any, control: Any, metrics: Any = None, **kwargs: Any) -> None:
            if on_evaluate is not None:
                on_evaluate(state.global_step, metrics)

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if on_log is not None:
                on_log(state.global_step, logs)

    args = transformers.TrainingArguments(
        output_dir=out,
        max_steps=12,
        per_device_train_batch_size=4,
        gradient_accumulation_steps=2,
        eval_strategy="steps",
        eval_steps=3,
        metric_for_best_model="loss",
        report_to=[],
        disable_tqdm=True,
        use_cpu=True,
        **options,
    )
    trainer = transformers.Trainer(
        model=model,
        args=args,
        train_dataset=data,
        eval_dataset=data[:16],
        optimizers=(opt, sched),
        callbacks=[Observe()],
    )
    trainer.train(resume_from_checkpoint=resume)
    return model.net


# -- Lightning ---------------------------------------------------------------------------------------------------------
def tiny_loader() -> Any:
    """The first 32 samples of :func:`tiny_data` in 4 batches of 8 (not shuffled)."""
    x, y = tiny_data()
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:32], y[:32]), batch_size=8)


def lightning_fit(
    net: Any,
    optimizer: Callable[[Any], Any],
    scheduler: Callable[[Any], dict[str, Any]],
    epochs: int,
    *,
    on_loss: Callable[[Any, Any, int], None],
    before_update: Callable[[Any], None],
    data: Any = None,
    ckpt_in: str | None = None,
    ckpt_out: str | None = None,
    **options: Any,
) -> Any:
    """``epochs`` of ``lightning.Trainer.fit`` of a module around ``net`` (the MSE of ``net(x)`` and ``y``) on
    ``data`` (:func:`tiny_loader` by default); ``configure_optimizers`` returns ``opt = optimizer(net)`` and the
    ``lr_scheduler`` config ``scheduler(opt)``. Returns the module (``module.net`` is ``net``).

    ``on_loss(module, loss, batch_idx)`` runs in each ``training_step`` (it logs what the scheduler monitors);
    ``before_update(opt)`` in ``on_before_optimizer_step`` (inside the closure, after backward).
    ``ckpt_in`` resumes (``fit(ckpt_path=...)``), ``ckpt_out`` saves a checkpoint after the fit; ``options`` add to
    or replace the ``Trainer``'s arguments (a logger, callbacks)."""
    import lightning.pytorch as pl

    class Module(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            loss = _loss(self.net, batch[0], batch[1])
            on_loss(self, loss, batch_idx)
            return loss

        def on_before_optimizer_step(self, optimizer: Any) -> None:
            before_update(optimizer)

        def configure_optimizers(self) -> Any:
            opt = optimizer(self.net)
            return {"optimizer": opt, "lr_scheduler": scheduler(opt)}

    module = Module()
    settings: dict[str, Any] = {
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "enable_checkpointing": False,
        "log_every_n_steps": 1,
    }
    trainer = pl.Trainer(max_epochs=epochs, **(settings | options))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice about num_workers and tiny data
        trainer.fit(module, tiny_loader() if data is None else data, ckpt_path=ckpt_in)
    if ckpt_out is not None:
        trainer.save_checkpoint(ckpt_out)
    return module
