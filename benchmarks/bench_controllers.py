"""Controller benchmark: the per-step cost of each issue-12 controller, eager and inside a jitted Optax step.

Run: ``python benchmarks/bench_controllers.py [--quick] [--out benchmarks/results/controllers.md]``

1. One eager ``update`` of the pure core on Python numbers (the closure compiled from it is faster).
2. One jitted training step of the medium MLP of ``bench_adapters.py`` (784-512-512-10, batch 256, Adam): a
   constant LR vs ``lrsched.adapters.optax.controlled(optax.scale_by_adam(), controller)``, which computes the
   controller's declared signals in the step and updates it.
3. The same MLP in torch: ``opt.step()`` vs ``opt.step()`` plus ``ControllerScheduler(opt, c).step(loss)``.

Target from issues 12 and 13: at most 2% overhead per step. Speed is measured here, never asserted in tests.
Best and median of interleaved repeats.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from _common import fmt, header, publish  # benchmarks/ is on sys.path
from bench_adapters import _mlp, _optax_steps, interleaved

import lrsched as L
from lrsched.controllers import ABEL, GapAware, Hypergradient, LRTuner, ProbeLR

PEAK = 1e-3
ROUNDS = {True: 5, False: 61}  # --quick: a smoke run
CONTROLLERS: dict[str, Any] = {
    "Hypergradient (additive)": Hypergradient(init_lr=PEAK, beta=1e-7),
    "Hypergradient (multiplicative)": Hypergradient(init_lr=PEAK, beta=1e-3, mode="multiplicative"),
    "ABEL": ABEL(init_lr=PEAK, interval=100, total_steps=10_000),
    "GapAware": GapAware(init_lr=PEAK),
    "LRTuner, look-ahead tuner (update only)": LRTuner(init_lr=PEAK),
    "LearnedLR (default policy)": dataclasses.replace(L.LearnedLR.default(), init_lr=PEAK, budget=10_000),
    "GreedyLR (window 10)": L.GreedyLR(init_lr=PEAK, window=10),
    "ProbeLR (range test + WSD)": ProbeLR(init_lr=PEAK, budget=10_000),
}
# The controllers that run in a training step (LRTuner's cost is its look-ahead training, not its update).
STEPPED = {name: c for name, c in CONTROLLERS.items() if "LRTuner" not in name}


def eager_section(quick: bool) -> list[str]:
    signals = {
        "loss": 1.3,
        "grad_dot_prev_direction": -0.5,
        "grad_norm": 2.0,
        "prev_direction_norm": 1.5,
        "param_norm": 10.0,
    }
    n = 2_000 if quick else 20_000

    def runner(c: Any, sig: Any) -> Callable[[], float]:
        def run() -> float:
            state = c.init()
            start = time.perf_counter()
            for _ in range(n):
                state = c.update(state, sig)
            return (time.perf_counter() - start) / n

        return run

    fns = {name: runner(c, {k: signals[k] for k in c.signals}) for name, c in CONTROLLERS.items()}
    t = interleaved(fns, 3 if quick else 7)
    rows = [f"| {name} | {fmt(t[name])} |" for name in fns]
    return ["## 1. One eager `update` on Python numbers", "", "| controller | per update |", "|---|---:|", *rows, ""]


def optax_section(quick: bool) -> list[str]:
    import optax

    from lrsched.adapters.optax import controlled

    params, loss_fn = _mlp((784, 512, 512, 10), 256)
    n = 10 if quick else 30
    txs = {"constant": optax.with_extra_args_support(optax.adam(PEAK))}
    txs.update({name: controlled(optax.scale_by_adam(), c) for name, c in STEPPED.items()})
    fns = {name: _optax_steps(tx, params, loss_fn, n) for name, tx in txs.items()}
    return _overhead_table(
        "## 2. One jitted Optax step, medium MLP (784-512-512-10, batch 256, Adam)",
        "`optax.adam(lr)` vs `lrsched.adapters.optax.controlled(optax.scale_by_adam(), controller)`: the adapter "
        "computes the declared signals inside the jitted step (a norm or a dot product over the parameters each; "
        "the hypergradient also keeps the previous direction).",
        interleaved(fns, ROUNDS[quick], stat=list),
    )


def torch_section(quick: bool) -> list[str]:
    import torch

    from lrsched.adapters.torch import ControllerScheduler

    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    sizes = (784, 512, 512, 10)
    layers: list[Any] = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    x, y = torch.randn(256, sizes[0]), torch.arange(256) % sizes[-1]
    n = 10 if quick else 30

    def steps(controller: Any) -> Callable[[], float]:
        opt = torch.optim.Adam(model.parameters(), lr=PEAK)
        sched = None if controller is None else ControllerScheduler(opt, controller)

        def one() -> None:
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step(loss.item())

        one()  # warm-up

        def run() -> float:
            start = time.perf_counter()
            for _ in range(n):
                one()
            return (time.perf_counter() - start) / n

        return run

    fns = {"constant": steps(None)} | {name: steps(c) for name, c in STEPPED.items()}
    return _overhead_table(
        "## 3. One torch step, the same MLP (Adam, eager)",
        "`opt.step()` vs `opt.step(); ControllerScheduler(opt, controller).step(loss.item())`: the scheduler "
        "computes the declared signals from the parameters and gradients (optimizer step hook).",
        interleaved(fns, ROUNDS[quick], stat=list),
    )


def _overhead_table(title: str, what: str, t: dict[str, list[float]]) -> list[str]:
    """Per-round overheads against the constant LR of the same round: median and interquartile range."""
    base = t["constant"]

    def overheads(name: str) -> list[float]:
        return sorted(100 * (x / b - 1) for x, b in zip(t[name], base))

    def row(name: str) -> str:
        over = overheads(name)
        q1, med, q3 = (over[round(q * (len(over) - 1))] for q in (0.25, 0.5, 0.75))
        return f"| {name} | {fmt(statistics.median(t[name]))} | {med:+.1f}% | [{q1:+.1f}%, {q3:+.1f}%] |"

    names = [name for name in t if name != "constant"]
    medians = {name: statistics.median(overheads(name)) for name in names}
    within = [name for name in names if medians[name] <= 2.0]
    above = [f"{name} ({medians[name]:+.1f}%)" for name in names if medians[name] > 2.0]
    return [
        title,
        "",
        what,
        "",
        "| LR | median step | overhead (median) | interquartile range |",
        "|---|---:|---:|---:|",
        *(row(name) for name in names),
        f"| constant | {fmt(statistics.median(base))} | | |",
        "",
        f"Target: at most 2% overhead. {len(base)} short rounds in which the variants take turns; the overhead is",
        "the step time over the constant LR's in the same round, so load changes between rounds cancel.",
        f"Within the target (median): {', '.join(within) or 'none'}. Above it: {', '.join(above) or 'none'}.",
        "",
    ]


HYPERGRADIENT_COST = """\
Why the hypergradient costs more: it reduces over the gradients (g . d_prev, and for the multiplicative
rule two norms as well) and keeps a parameter-sized copy of the previous direction, passes over memory
that a CPU step of this size does not otherwise make (measured apart in the jitted step: the copy and
one gradient reduction each cost about 10% of it). A parameter-norm signal is one reduction over the
parameters (ABEL reads it only every `interval` updates, but the adapters measure it every step)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--out", default=None, help="also write the report to this markdown file")
    parser.add_argument("--only", default=None, help="only the controllers whose name contains this text")
    args = parser.parse_args()
    if args.only:
        for table in (CONTROLLERS, STEPPED):
            for name in [n for n in table if args.only not in n]:
                del table[name]
    import jax
    import torch

    lines = [
        *header("lrsched controllers benchmark", "bench_controllers.py", args.quick, args.out, jax, torch),
        *eager_section(args.quick),
        *optax_section(args.quick),
        *torch_section(args.quick),
        HYPERGRADIENT_COST,
    ]
    report = "\n".join(lines)
    publish(report, args.out)


if __name__ == "__main__":
    main()
