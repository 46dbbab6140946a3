"""Run part-2 methods on a task: every (method, LR, seed) of a plan, batched per method in JAX, one by one in PyTorch.

A *plan* maps a method name (see :mod:`benchmarks.convergence.methods`) to the LRs to run it at (for a
parameter-free optimizer: the multiples of its recommended LR). In JAX, all time-based schedules share one
compiled function (their per-step LRs are an input) and every other method gets its own; compiled functions
are cached per (task, method) and the run batch is padded to a multiple of 16, so later rounds of the same
method reuse them.

Example:
    >>> import dataclasses
    >>> from benchmarks.convergence.tasks import TASKS
    >>> task = dataclasses.replace(TASKS["softmax"], steps=20, eval_every=10)
    >>> rows = execute(task, (0,), {"cosine": [0.1], "greedy": [0.1]})
    >>> [(name, lr, seed) for name, lr, seed, _ in rows]
    [('cosine', 0.1, 0), ('greedy', 0.1, 0)]
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import math
from typing import Any

import numpy as np

from benchmarks.convergence.methods import METHODS, Method
from benchmarks.convergence.tasks import Task, batches, project_nonneg
from benchmarks.convergence.util import stack

__all__ = ["execute"]

Row = tuple[str, float, int, dict[str, Any]]


def execute(task: Task, seeds: tuple[int, ...], plan: dict[str, list[float]]) -> list[Row]:
    """``(method, lr, seed, outputs)`` for every LR of every method of ``plan`` on every seed.

    ``outputs``: ``loss`` (minibatch loss per step), ``lr`` (per step; NaN for optimizers), ``eval`` (full
    training loss every ``task.eval_every`` steps) and ``acc`` (held-out accuracy, NaN without one).
    """
    if task.framework == "torch":
        return _torch_rows(task, seeds, plan)
    out: list[Row] = []
    timed = [(n, lr) for n, lrs in plan.items() for lr in lrs if METHODS[n].kind == "schedule"]
    if timed:
        steps = np.arange(task.steps)
        per_step = [np.asarray(METHODS[n].jax(lr, task.steps)(steps), np.float32) for n, lr in timed]
        lr_input = np.repeat(np.stack(per_step), len(seeds), axis=0)
        res = _run(task, "schedules", seeds * len(timed), lr_input)
        out += [
            (n, lr, s, _pick(res, j * len(seeds) + i)) for j, (n, lr) in enumerate(timed) for i, s in enumerate(seeds)
        ]
    for name, lrs in plan.items():
        if METHODS[name].kind == "schedule" or not lrs:
            continue
        res = _run(task, name, seeds * len(lrs), np.repeat(np.asarray(lrs, np.float32), len(seeds)))
        out += [(name, lr, s, _pick(res, j * len(seeds) + i)) for j, lr in enumerate(lrs) for i, s in enumerate(seeds)]
    return out


def _pick(res: dict[str, np.ndarray], i: int) -> dict[str, Any]:
    return {k: v[i] for k, v in res.items()}


@functools.cache
def _compiled(task: Task, key: str) -> Any:
    from benchmarks.convergence.engine import optax_runner, runner

    project = project_nonneg if task.name == "nmf" else None
    if key == "schedules":
        return runner(task.loss, None, task.optimizer, project, task.full_loss, task.eval_every)
    method = METHODS[key]
    if method.kind == "controller":
        return runner(task.loss, method.jax(task), task.optimizer, project, task.full_loss, task.eval_every)
    return optax_runner(task.loss, method.jax(task), method.eval_params, project, task.full_loss, task.eval_every)


@functools.cache
def _accuracy(task: Task) -> Any:
    import jax

    return jax.jit(jax.vmap(task.accuracy)) if task.accuracy is not None else None


def _padded(n: int, least: int) -> int:
    n = max(n, least)
    return 1 << max(0, n - 1).bit_length() if n <= 16 else 16 * math.ceil(n / 16)


def _run(task: Task, key: str, seeds: tuple[int, ...], lr_input: np.ndarray) -> dict[str, np.ndarray]:
    n = len(seeds)
    seeds = seeds + seeds[:1] * (_padded(n, task.min_batch) - n)
    lr_input = np.concatenate([lr_input, np.repeat(lr_input[:1], len(seeds) - n, axis=0)])
    params = stack([task.init(np.random.default_rng([1, s])) for s in seeds])
    batch = np.stack([batches(np.random.default_rng([2, s]), 1200, task.steps) for s in seeds])
    data = stack([task.data] * len(seeds))
    out = _compiled(task, key)(params, data, batch, lr_input)
    res = {k: np.asarray(out[k])[:n] for k in ("loss", "lr", "eval")}
    acc = _accuracy(task)
    res["acc"] = np.asarray(acc(out["final_params"], data))[:n] if acc is not None else np.full(n, np.nan)
    return res


def _torch_maker(task: Task, method: Method, lr: float) -> dict[str, Any]:
    """``train_cnn`` keyword arguments for ``method`` at ``lr`` through ``lrsched.adapters.torch``."""
    if method.kind == "schedule":
        from lrsched.adapters.torch import schedule_lr

        sched = method.jax(lr, task.steps)
        return {"make_scheduler": lambda opt: schedule_lr(opt, sched)}
    if method.kind == "controller":
        return {"make_scheduler": method.torch(task, lr)}
    return {"make_scheduler": None, "make_optimizer": method.torch(task, lr)}


def _torch_rows(task: Task, seeds: tuple[int, ...], plan: dict[str, list[float]]) -> list[Row]:
    from benchmarks.convergence.torch_task import train_cnn

    logging.getLogger("dog").setLevel(logging.ERROR)  # DoG warns on every LR but 1 (the robustness runs set it)
    out: list[Row] = []
    for name, lrs in plan.items():
        method = METHODS[name]
        for lr in lrs:
            for seed in seeds:
                with contextlib.redirect_stdout(io.StringIO()):  # some ports print their settings
                    res = train_cnn(
                        seed=seed, steps=task.steps, eval_every=task.eval_every, **_torch_maker(task, method, lr)
                    )
                if method.kind == "optimizer":
                    res["lr"] = np.full_like(res["lr"], np.nan)
                out.append((name, lr, seed, res))
    return out
