"""Adapter benchmark: lrsched inside torch, Keras and Optax next to each framework's own, in one run.

Run: ``python benchmarks/bench_adapters.py [--quick] [--section 1|2|3] [--out benchmarks/results/adapters.md]``

Prints one markdown report (and writes it to ``--out``):
1. torch: ``LambdaLR.step()`` driven by lrsched warmup+cosine (``schedule_lr``) vs
   native ``CosineAnnealingLR.step()`` (target: at most 1.2x; CPU time, best of the rounds and the median of
   the per-round ratios);
2. Keras, per backend (each in its own process): one ``model.fit`` epoch with a
   ``KerasSchedule`` vs ``keras.optimizers.schedules.CosineDecay`` with warmup vs a
   float LR, and the eager cost of one schedule call on ``optimizer.iterations``;
3. Optax: a jitted training step with the GreedyLR transform vs a constant LR
   (target: at most 5% overhead), for a small and a medium MLP.

Speed is measured here, never asserted in tests. Timings are the best of
interleaved repeats: the variants alternate, so machine noise hits all alike, and
on a shared machine the minimum is the least disturbed measure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from _common import fmt, header, publish, rounds  # benchmarks/ is on sys.path

import lrsched as L

PEAK, WARMUP, DECAY = 1e-3, 100, 9_900


def interleaved(
    variants: dict[str, Callable[[], float]], repeat: int, stat: Callable[[list[float]], Any] = min
) -> dict[str, Any]:
    """``stat`` (default: the best) of each variant's seconds per unit, the variants taking turns."""
    return {k: stat(v) for k, v in rounds(variants, repeat).items()}


# -- 1. torch ----------------------------------------------------------------------------------------------------------
def torch_section(quick: bool) -> list[str]:
    import torch

    from lrsched.adapters.torch import schedule_lr

    warnings.filterwarnings("ignore", message=".*lr_scheduler.step.*")
    sched = L.warmup(L.cosine_decay(PEAK, DECAY), warmup_steps=WARMUP)
    n = 2_000 if quick else 20_000

    def per_step(make: Callable[[torch.optim.Optimizer], Any]) -> Callable[[], float]:
        def run() -> float:
            opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=PEAK)
            scheduler = make(opt)
            # CPU time of this process: the loop is single-threaded Python (a float LR, no tensor work), and the
            # time it spends descheduled on a shared machine does not count.
            start = time.process_time()
            for _ in range(n):
                scheduler.step()
            return (time.process_time() - start) / n

        return run

    samples = rounds(
        {
            "native": per_step(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=DECAY)),
            "lrsched": per_step(lambda o: schedule_lr(o, sched)),
        },
        repeat=5 if quick else 15,
    )
    best = {k: min(v) for k, v in samples.items()}
    ratios = sorted(a / b for a, b in zip(samples["lrsched"], samples["native"]))
    median = statistics.median(ratios)
    return [
        "## 1. torch: one `scheduler.step()`",
        "",
        "| scheduler | per step (best) | ratio of the bests | median of the per-round ratios (range) |",
        "|---|---:|---:|---:|",
        f"| `CosineAnnealingLR` (native, cosine only) | {fmt(best['native'])} | 1.00 | 1.00 |",
        f"| `schedule_lr(opt, warmup(cosine_decay))` (a `LambdaLR`) | {fmt(best['lrsched'])} "
        f"| {best['lrsched'] / best['native']:.2f} | {median:.2f} ({ratios[0]:.2f}-{ratios[-1]:.2f}) |",
        "",
        f"Target: lrsched at most 1.2x the native step. CPU time of {len(ratios)} interleaved rounds of {n} steps "
        "each; the median of the per-round ratios is the robust figure on a shared machine.",
        "",
    ]


# -- 2. Keras (one process per backend) --------------------------------------------------------------------------------
def _keras_models(x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The same MLP compiled with a float LR, a KerasSchedule and Keras' CosineDecay (one epoch run to compile)."""
    import keras

    from lrsched.adapters.keras import KerasSchedule

    schedules = {
        "float": lambda: PEAK,
        "lrsched": lambda: KerasSchedule(L.warmup(L.cosine_decay(PEAK, DECAY), warmup_steps=WARMUP)),
        "keras": lambda: keras.optimizers.schedules.CosineDecay(0.0, DECAY, warmup_target=PEAK, warmup_steps=WARMUP),
    }
    models = {}
    for name, make in schedules.items():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [keras.Input((64,)), keras.layers.Dense(128, activation="relu"), keras.layers.Dense(10)]
        )
        model.compile(keras.optimizers.Adam(make()), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # compile
        models[name] = model
    return models


def keras_child(quick: bool) -> dict[str, Any]:
    """Runs inside a process with KERAS_BACKEND set; returns seconds per epoch and per eager call."""
    import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(4096, 64)).astype("float32")
    y = rng.integers(0, 10, size=4096)
    models = _keras_models(x, y)

    def epoch(model: Any) -> Callable[[], float]:
        def run() -> float:
            start = time.perf_counter()
            model.fit(x, y, batch_size=32, epochs=1, verbose=0)
            return time.perf_counter() - start

        return run

    fit = interleaved({k: epoch(m) for k, m in models.items()}, repeat=3 if quick else 9)
    calls = 20 if quick else 100

    def eager(name: str) -> Callable[[], float]:
        optimizer = models[name].optimizer

        def run() -> float:
            sched = optimizer._learning_rate
            start = time.perf_counter()
            for _ in range(calls):
                keras.ops.convert_to_numpy(sched(optimizer.iterations))
            return (time.perf_counter() - start) / calls

        return run

    call = interleaved({k: eager(k) for k in ("lrsched", "keras")}, repeat=3 if quick else 5)
    return {"fit": fit, "call": call}


def keras_section(quick: bool) -> list[str]:
    rows = []
    for backend in ("tensorflow", "jax", "torch"):
        env = {**os.environ, "KERAS_BACKEND": backend}
        cmd = [sys.executable, __file__, "--keras-child", *(["--quick"] if quick else [])]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        fit, call = r["fit"], r["call"]
        rows.append(
            f"| {backend} | {fmt(fit['float'])} | {fmt(fit['keras'])} | {fmt(fit['lrsched'])} "
            f"| {fit['lrsched'] / fit['keras']:.2f} | {fmt(call['keras'])} | {fmt(call['lrsched'])} |"
        )
    return [
        "## 2. Keras 3: one `model.fit` epoch (128 steps, MLP 64-128-10, Adam) and one eager schedule call",
        "",
        "| backend | float LR epoch | `CosineDecay`+warmup epoch | `KerasSchedule` epoch | ratio | "
        "`CosineDecay` eager call | `KerasSchedule` eager call |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Best of 9 interleaved epochs (of 5 runs for the eager calls). The eager call is",
        "`schedule(optimizer.iterations)` outside the compiled step, as callbacks do (Keras' `CosineDecay`",
        "with warmup recompiles its `cond` on every eager call on JAX).",
        "",
    ]


# -- 3. Optax ----------------------------------------------------------------------------------------------------------
def optax_section(quick: bool) -> list[str]:
    import optax

    from lrsched.adapters.optax import scale_by_greedy_lr

    rows = []
    for label, sizes, batch in (
        ("small (64-64-10, batch 100)", (64, 64, 10), 100),
        ("medium (784-512-512-10, batch 256)", (784, 512, 512, 10), 256),
    ):
        params, loss_fn = _mlp(sizes, batch)

        txs = {
            "constant": optax.with_extra_args_support(optax.adam(PEAK)),
            "greedy": optax.chain(
                optax.scale_by_adam(), scale_by_greedy_lr(L.GreedyLR(init_lr=PEAK, window=10, max_lr=1e-2))
            ),
            "plateau": optax.chain(optax.adam(PEAK), optax.contrib.reduce_on_plateau()),
        }
        t = interleaved(
            {k: _optax_steps(tx, params, loss_fn, 50 if quick else 300) for k, tx in txs.items()}, 5 if quick else 9
        )
        over = {k: f"{100 * (t[k] / t['constant'] - 1):+.1f}%" for k in ("greedy", "plateau")}
        rows.append(
            f"| {label} | {fmt(t['constant'])} | {fmt(t['greedy'])} | {over['greedy']} "
            f"| {fmt(t['plateau'])} | {over['plateau']} |"
        )
    return [
        "## 3. Optax: one jitted training step (`value_and_grad` + update + apply)",
        "",
        "| MLP | `optax.adam(lr)` | + `scale_by_greedy_lr` (window 10) | overhead "
        "| `adam` + `optax.contrib.reduce_on_plateau` (reference) | overhead |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "Target: at most 5% overhead. The GreedyLR state is packed into 3 arrays: on a tiny model the step",
        "is dominated by per-leaf dispatch and scalar kernels, where Optax's own plateau transform pays alike.",
        "",
    ]


def _mlp(sizes: tuple[int, ...], batch: int) -> tuple[Any, Callable[[Any], Any]]:
    """Parameters and a cross-entropy loss of a ReLU MLP on a fixed random batch."""
    import jax
    import jax.numpy as jnp
    import optax

    keys = jax.random.split(jax.random.PRNGKey(0), len(sizes))
    params = [(jax.random.normal(k, (a, b)) / np.sqrt(a), jnp.zeros(b)) for k, a, b in zip(keys, sizes, sizes[1:])]
    x = jax.random.normal(keys[-1], (batch, sizes[0]))
    y = jnp.arange(batch) % sizes[-1]

    def loss_fn(p: Any, x: Any = x, y: Any = y) -> Any:
        h = x
        for w, b in p[:-1]:
            h = jax.nn.relu(h @ w + b)
        logits = h @ p[-1][0] + p[-1][1]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    return params, loss_fn


def _optax_steps(tx: Any, params: Any, loss_fn: Callable[[Any], Any], n: int) -> Callable[[], float]:
    import jax
    import optax

    @jax.jit
    def step(p: Any, s: Any) -> Any:
        loss, grads = jax.value_and_grad(loss_fn)(p)
        updates, s = tx.update(grads, s, p, value=loss)
        return optax.apply_updates(p, updates), s

    state = tx.init(params)
    jax.block_until_ready(step(params, state))  # compile

    def run() -> float:
        p, s = params, state
        start = time.perf_counter()
        for _ in range(n):
            p, s = step(p, s)
        jax.block_until_ready(p)
        return (time.perf_counter() - start) / n

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--out", default=None, help="also write the report to this markdown file")
    parser.add_argument("--section", type=int, choices=(1, 2, 3), help="run one section only (default: all)")
    parser.add_argument("--keras-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.keras_child:
        print(json.dumps(keras_child(args.quick)))
        return
    import jax
    import keras
    import torch

    script = "bench_adapters.py" + (f" --section {args.section}" if args.section else "")
    sections = {1: torch_section, 2: keras_section, 3: optax_section}
    lines = header("lrsched adapters benchmark", script, args.quick, args.out, torch, jax, keras)
    for number, section in sections.items():
        if args.section in (None, number):
            lines += section(args.quick)
    report = "\n".join(lines)
    publish(report, args.out)


if __name__ == "__main__":
    main()
