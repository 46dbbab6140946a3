"""GPU benchmark: a training step with lrsched schedules and controllers vs the frameworks' own, on torch CUDA and JAX.

Run: ``python benchmarks/bench_gpu.py [--quick] [--out benchmarks/results/gpu.md]``

AdamW on an MLP 1024-4096-4096-1024, batch 1024, one jitted/eager step per iteration; per framework:
1. schedules: the native cosine (torch ``CosineAnnealingLR``, ``optax.cosine_decay_schedule``) vs lrsched's
   ``cosine_decay`` (``schedule_lr``, ``as_optax_schedule``);
2. controllers: the native plateau scheduler (torch ``ReduceLROnPlateau.step(float(loss))``, which syncs the host
   every step; ``optax.contrib.reduce_on_plateau``) vs lrsched's GreedyLR (``GreedyLRScheduler.step(loss_tensor)``
   with a tensor LR: no sync; ``scale_by_greedy_lr``).
Ratios (lrsched / native) are medians of interleaved rounds, in one run. Exits with a message (status 0) when no
GPU is present. Speed is never asserted in tests.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from _common import command_line, publish  # benchmarks/ is on sys.path

import lrsched

SIZES, BATCH, LR, STEPS = (1024, 4096, 4096, 1024), 1024, 1e-3, 10_000
DEVICE = "cuda"  # a smoke run on CPU sets "cpu" (and small SIZES)


def _rounds(variants: dict[str, Callable[[int], float]], n: int, repeat: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeat):
        for name, run in variants.items():
            times[name].append(run(n) / n)
    return times


def _rows(section: str, pairs: list[tuple[str, str]], times: dict[str, list[float]]) -> list[str]:
    rows = []
    for native, ours in pairs:
        ratio = statistics.median(a / b for a, b in zip(times[ours], times[native]))
        rows.append(
            f"| {section} | {native} | {statistics.median(times[native]) * 1e3:.3f} | {ours} "
            f"| {statistics.median(times[ours]) * 1e3:.3f} | {ratio:.3f} |"
        )
    return rows


def torch_rows(n: int, repeat: int) -> list[str]:
    import torch

    from lrsched.adapters.torch import GreedyLRScheduler, schedule_lr

    dev = torch.device(DEVICE)
    sync = torch.cuda.synchronize if DEVICE == "cuda" else (lambda: None)
    torch.manual_seed(0)
    layers = [torch.nn.Linear(a, b) for a, b in itertools.pairwise(SIZES)]
    x, y = torch.randn(BATCH, SIZES[0], device=dev), torch.randn(BATCH, SIZES[-1], device=dev)

    def make(kind: str) -> Callable[[int], float]:
        modules = [m for layer in copy.deepcopy(layers) for m in (layer, torch.nn.ReLU())][:-1]
        model = torch.nn.Sequential(*modules).to(dev)  # the same initial weights in every variant
        tensor_lr = kind == "lrsched GreedyLR"
        opt = torch.optim.AdamW(model.parameters(), lr=torch.tensor(LR, device=dev) if tensor_lr else LR,
                                capturable=tensor_lr and DEVICE == "cuda")  # fmt: skip
        sched: Any = {
            "torch CosineAnnealingLR": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS),
            "lrsched cosine_decay": lambda: schedule_lr(opt, lrsched.cosine_decay(LR, STEPS)),
            "torch ReduceLROnPlateau": lambda: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=10),
            "lrsched GreedyLR": lambda: GreedyLRScheduler(opt, patience=10, window=10),
        }[kind]()

        def run(steps: int) -> float:
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                loss = torch.nn.functional.mse_loss(model(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                if kind == "torch ReduceLROnPlateau":
                    sched.step(float(loss.detach()))  # torch reads the value on the host
                elif kind == "lrsched GreedyLR":
                    sched.step(loss)  # stays on the device
                else:
                    sched.step()
            sync()
            return time.perf_counter() - start

        run(3)
        return run

    kinds = ["torch CosineAnnealingLR", "lrsched cosine_decay", "torch ReduceLROnPlateau", "lrsched GreedyLR"]
    times = _rounds({k: make(k) for k in kinds}, n, repeat)
    return _rows("torch", [(kinds[0], kinds[1]), (kinds[2], kinds[3])], times)


def jax_rows(n: int, repeat: int) -> list[str]:
    import jax
    import jax.numpy as jnp
    import optax

    from lrsched.adapters.optax import as_optax_schedule, scale_by_greedy_lr

    keys = jax.random.split(jax.random.PRNGKey(0), len(SIZES) + 1)
    params = [(jax.random.normal(k, (a, b)) / a**0.5, jnp.zeros(b)) for k, a, b in zip(keys, SIZES[:-1], SIZES[1:])]
    x = jax.random.normal(keys[-1], (BATCH, SIZES[0]))
    y = jnp.zeros((BATCH, SIZES[-1]))

    def loss_fn(p: Any) -> Any:
        h = x
        for i, (w, b) in enumerate(p):
            h = h @ w + b
            h = jax.nn.relu(h) if i < len(p) - 1 else h
        return jnp.mean((h - y) ** 2)

    opts = {
        "optax cosine_decay_schedule": optax.adamw(optax.cosine_decay_schedule(LR, STEPS)),
        "lrsched cosine_decay": optax.adamw(as_optax_schedule(lrsched.cosine_decay(LR, STEPS))),
        "optax reduce_on_plateau": optax.chain(optax.adamw(LR), optax.contrib.reduce_on_plateau(patience=10)),
        "lrsched GreedyLR": optax.chain(
            optax.scale_by_adam(), optax.add_decayed_weights(1e-4),
            scale_by_greedy_lr(lrsched.GreedyLR(init_lr=LR, patience=10, window=10)),
        ),
    }  # fmt: skip

    def make(opt: Any) -> Callable[[int], float]:
        @jax.jit
        def step(p: Any, s: Any) -> tuple[Any, Any]:
            loss, g = jax.value_and_grad(loss_fn)(p)
            u, s = opt.update(g, s, p, value=loss)
            return optax.apply_updates(p, u), s

        carry = [params, opt.init(params)]

        def run(steps: int) -> float:
            jax.block_until_ready(carry)
            start = time.perf_counter()
            p, s = carry
            for _ in range(steps):
                p, s = step(p, s)
            jax.block_until_ready((p, s))
            carry[:] = [p, s]
            return time.perf_counter() - start

        run(3)
        return run

    times = _rounds({k: make(o) for k, o in opts.items()}, n, repeat)
    kinds = list(opts)
    return _rows("JAX", [(kinds[0], kinds[1]), (kinds[2], kinds[3])], times)


def _has_gpu() -> tuple[bool, bool]:
    try:
        import torch

        has_torch = torch.cuda.is_available()
    except ImportError:
        has_torch = False
    try:
        import jax

        has_jax = any(d.platform == "gpu" for d in jax.devices())
    except (ImportError, RuntimeError):
        has_jax = False
    return has_torch, has_jax


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (a smoke run)")
    parser.add_argument("--out", help="also write the report to this markdown file")
    args = parser.parse_args(argv)
    has_torch, has_jax = _has_gpu()
    if not (has_torch or has_jax):
        print("bench_gpu: no GPU found (torch.cuda and JAX see none); nothing to measure.")
        return 0
    n, repeat = (20, 3) if args.quick else (200, 7)
    lines = [
        "# GPU benchmark",
        "",
        f"Command: `{command_line('bench_gpu.py', args.quick, args.out)}`",
        "",
        f"Python {platform.python_version()}; {n} steps per round, medians of {repeat} interleaved rounds.",
        "",
        "| framework | native | ms/step | lrsched | ms/step | lrsched / native |",
        "|---|---|---:|---|---:|---:|",
    ]
    if has_torch:
        lines += torch_rows(n, repeat)
    if has_jax:
        lines += jax_rows(n, repeat)
    report = "\n".join(lines) + "\n"
    publish(report, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
