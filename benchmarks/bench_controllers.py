"""Controller benchmark: the per-step cost of each issue-12 controller, eager and inside a jitted Optax step.

Run: ``python benchmarks/bench_controllers.py [--quick] [--out benchmarks/results/controllers.md]``

1. One eager ``update`` on Python numbers (the stateful-closure path), GreedyLR as the reference.
2. One jitted training step of the medium MLP of ``bench_adapters.py`` (784-512-512-10, batch 256,
   ``optax.scale_by_adam``): a constant LR vs the same step that computes the controller's declared signals
   (dot products / norms over the parameters, a stored previous direction for the hypergradient) and updates
   the controller. The signal code here is written by hand, as an adapter would; rerun through the generic
   adapters once they are merged. Target from issue 12: at most 2% overhead.

Speed is measured here, never asserted in tests. Best of interleaved repeats.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from _common import command_line, fmt, publish  # benchmarks/ is on sys.path
from bench_adapters import _mlp, interleaved

import lrsched as L
from lrsched.controllers import ABEL, GapAware, Hypergradient, LRTuner

PEAK = 1e-3
CONTROLLERS: dict[str, Any] = {
    "Hypergradient (additive)": Hypergradient(init_lr=PEAK, beta=1e-7),
    "Hypergradient (multiplicative)": Hypergradient(init_lr=PEAK, beta=1e-3, mode="multiplicative"),
    "ABEL": ABEL(init_lr=PEAK, interval=100, total_steps=10_000),
    "GapAware": GapAware(init_lr=PEAK),
    "LRTuner (update only)": LRTuner(init_lr=PEAK),
}


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
            state = c.init(lr=PEAK) if not isinstance(c, L.GreedyLR) else c.init()
            start = time.perf_counter()
            for _ in range(n):
                state = c.update(state, sig)
            return (time.perf_counter() - start) / n

        return run

    fns = {name: runner(c, {k: signals[k] for k in c.signals}) for name, c in CONTROLLERS.items()}
    fns["GreedyLR (reference)"] = runner(L.GreedyLR(init_lr=PEAK, window=10), 1.3)
    t = interleaved(fns, 3 if quick else 7)
    rows = [f"| {name} | {fmt(t[name])} |" for name in fns]
    return ["## 1. One eager `update` on Python numbers", "", "| controller | per update |", "|---|---:|", *rows, ""]


def _steps(controller: Any, params: Any, loss_fn: Callable[[Any], Any], n: int) -> Callable[[], float]:
    import jax
    import jax.numpy as jnp
    import optax

    inner = optax.scale_by_adam()
    names = () if controller is None else tuple(controller.signals)

    def dot(a: Any, b: Any) -> Any:
        return sum(jnp.vdot(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))

    @jax.jit
    def step(p: Any, s: Any) -> Any:
        inner_state, cstate, prev = s
        loss, grads = jax.value_and_grad(loss_fn)(p)
        direction, inner_state = inner.update(grads, inner_state, p)
        direction = jax.tree.map(lambda d: -d, direction)
        if controller is None:
            lr = PEAK
        else:
            signals = {}
            for name in names:
                if name == "loss":
                    signals[name] = loss
                elif name == "grad_norm":
                    signals[name] = optax.global_norm(grads)
                elif name == "param_norm":
                    signals[name] = optax.global_norm(p)
                elif name == "prev_direction_norm":
                    signals[name] = optax.global_norm(prev)
                else:
                    signals[name] = dot(grads, prev)
            cstate = controller.update(cstate, signals)
            lr = controller.lr(cstate)
        p = jax.tree.map(lambda w, d: w + lr * d, p, direction)
        keep = "grad_dot_prev_direction" in names
        return p, (inner_state, cstate, direction if keep else prev)

    needs_prev = controller is not None and "grad_dot_prev_direction" in controller.signals
    prev = jax.tree.map(jnp.zeros_like, params) if needs_prev else ()
    cstate = () if controller is None else controller.init(like=jnp.zeros((), jnp.float32))
    state = (inner.init(params), cstate, prev)
    jax.block_until_ready(step(params, state))

    def run() -> float:
        p, s = params, state
        start = time.perf_counter()
        for _ in range(n):
            p, s = step(p, s)
        jax.block_until_ready(p)
        return (time.perf_counter() - start) / n

    return run


def optax_section(quick: bool) -> list[str]:
    params, loss_fn = _mlp((784, 512, 512, 10), 256)
    n = 50 if quick else 300
    fns = {"constant": _steps(None, params, loss_fn, n)}
    fns.update({name: _steps(c, params, loss_fn, n) for name, c in CONTROLLERS.items() if "LRTuner" not in name})
    t = interleaved(fns, 5 if quick else 9)
    rows = [f"| {name} | {fmt(t[name])} | {100 * (t[name] / t['constant'] - 1):+.1f}% |" for name in fns]
    return [
        "## 2. One jitted Optax step, medium MLP (784-512-512-10, batch 256, `scale_by_adam`)",
        "",
        "| LR | per step | overhead |",
        "|---|---:|---:|",
        *rows,
        "",
        "Target: at most 2% overhead. The signals cost O(parameters) each (a dot product or a norm); the",
        "hypergradient also keeps one parameter-sized previous direction.",
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--out", default=None, help="also write the report to this markdown file")
    args = parser.parse_args()
    import jax

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# lrsched controllers benchmark",
        "",
        f"Command: `{command_line('bench_controllers.py', args.quick, args.out)}`",
        "",
        f"Python {platform.python_version()}, jax {jax.__version__}, {platform.machine()} CPU, "
        f"{os.cpu_count()} cores (shared; load average {load:.1f} at the start).",
        "",
        *eager_section(args.quick),
        *optax_section(args.quick),
    ]
    report = "\n".join(lines)
    publish(report, args.out)


if __name__ == "__main__":
    main()
