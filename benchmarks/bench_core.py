"""Core schedule benchmark: lrsched next to hand-written code, Optax and torch, in one run.

Run: ``python benchmarks/bench_core.py [--quick] [--section 1..5] [--out benchmarks/results/core.md]``

Prints one markdown report (and writes it to ``--out``):
1. scalar warmup+cosine call: lrsched vs a hand-written ``math`` function vs
   ``optax.warmup_cosine_decay_schedule`` called eagerly vs torch
   ``CosineAnnealingLR.step()``;
2. 10**6 steps on a NumPy array vs the same formula written directly in NumPy;
3. joins of N pieces (N = 10 .. 10 000): scalar eager cost, jit compile time,
   jitted evaluation of 10**5 steps and compiled graph size, next to Optax;
4. a jitted Optax MLP training step with an lrsched schedule vs Optax's own;
5. the traps of issue 10: joins of N=200 pieces with distinct vs equal settings
   (every type; NumPy and jit compile), joins of nested warmups by depth, an eager
   call on a JAX device scalar vs Optax, torch tensor steps eager and under
   ``torch.compile(fullgraph=True)``.

Speed is measured here, never asserted in tests. Timings are medians of repeats.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from _common import command_line, fmt, median_time, publish, rounds  # benchmarks/ is on sys.path

import lrsched as L

PEAK, END, WARMUP, DECAY = 1e-3, 1e-5, 1_000, 9_000


def per_call(fn: Callable[[], Any], number: int, repeat: int = 5) -> float:
    """Median seconds per call of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def cpu_time(fn: Callable[[], Any], number: int) -> float:
    """CPU seconds of this process (every thread) per call of ``fn``, over ``number`` calls."""
    start = time.process_time()
    for _ in range(number):
        fn()
    return (time.process_time() - start) / number


def hand_written(step: float) -> float:
    if step < WARMUP:
        return PEAK * step / WARMUP
    t = min(step - WARMUP, DECAY)
    return END + (PEAK - END) * 0.5 * (1.0 + math.cos(math.pi * t / DECAY))


def scalar_section(quick: bool) -> list[str]:
    sched = L.warmup(L.cosine_decay(PEAK, DECAY, end_value=END), warmup_steps=WARMUP)
    opt = optax.warmup_cosine_decay_schedule(0.0, PEAK, WARMUP, WARMUP + DECAY, END)
    steps = list(range(0, WARMUP + DECAY, 97))  # a spread over warmup and decay
    n = 20 if quick else 100

    def loop(fn: Callable[[int], Any]) -> Callable[[], None]:
        def run() -> None:
            for s in steps:
                fn(s)

        return run

    t_lr = per_call(loop(sched), n) / len(steps)
    t_hand = per_call(loop(hand_written), n) / len(steps)
    t_optax = per_call(loop(opt), 2 if quick else 5, repeat=3) / len(steps)

    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=PEAK)
    torch_sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=DECAY, eta_min=END)
    t_torch = per_call(torch_sched.step, 2_000 if quick else 20_000)
    rows = [
        "## 1. Scalar call of warmup+cosine (mean over steps 0..10 000)",
        "",
        "| implementation | per call | ratio to hand-written |",
        "|---|---|---|",
        f"| hand-written `math` function | {fmt(t_hand)} | 1.00 |",
        f"| **lrsched** `warmup(cosine_decay(...))` | {fmt(t_lr)} | {t_lr / t_hand:.2f} |",
        f"| `optax.warmup_cosine_decay_schedule`, eager | {fmt(t_optax)} | {t_optax / t_hand:.0f} |",
        f"| torch `CosineAnnealingLR.step()` | {fmt(t_torch)} | {t_torch / t_hand:.1f} |",
        "",
        f"lrsched is {t_optax / t_lr:.0f}x faster than Optax eager (target >= 100x) and "
        f"{t_lr / t_hand:.2f}x the hand-written function (target <= 3x).",
    ]
    return rows


def numpy_section(quick: bool) -> list[str]:
    sched = L.warmup(L.cosine_decay(PEAK, DECAY, end_value=END), warmup_steps=WARMUP)
    steps = np.linspace(0, 12_000, 10**6)

    def direct() -> np.ndarray:
        t = np.minimum(np.maximum(steps - WARMUP, 0.0), DECAY)
        decay = END + (PEAK - END) * 0.5 * (1.0 + np.cos(np.pi * t / DECAY))
        return np.where(steps < WARMUP, PEAK * steps / WARMUP, decay)

    assert np.allclose(direct(), sched(steps), rtol=1e-12, atol=0)
    r = 3 if quick else 7
    t_lr, t_np = median_time(lambda: sched(steps), r), median_time(direct, r)
    return [
        "## 2. 10^6 steps on a NumPy array",
        "",
        "| implementation | time | ratio |",
        "|---|---|---|",
        f"| formula written directly in NumPy | {fmt(t_np)} | 1.00 |",
        f"| **lrsched** | {fmt(t_lr)} | {t_lr / t_np:.2f} (target <= 1.3) |",
    ]


def join_pieces(n: int) -> tuple[L.Schedule, Callable[[Any], Any], float]:
    """N cosine pieces of 100 steps with decaying peaks (an SGDR-like join), lrsched and Optax."""
    peaks = [PEAK * 0.999**i for i in range(n)]
    ours = L.join(
        tuple(L.cosine_decay(p, 100, end_value=END) for p in peaks), tuple(100 * (i + 1) for i in range(n - 1))
    )
    theirs = optax.join_schedules(
        [optax.cosine_decay_schedule(p, 100, alpha=END / p) for p in peaks], [100 * (i + 1) for i in range(n - 1)]
    )
    return ours, theirs, 100.0 * n


def join_section(quick: bool) -> list[str]:
    sizes = (10, 100, 1_000) if quick else (10, 100, 1_000, 10_000)
    optax_max = 100 if quick else 1_000
    rows = [
        "## 3. Joins of N cosine pieces",
        "",
        "| N | lrsched scalar | lrsched compile | lrsched jit 10^5 steps | lrsched HLO ops "
        "| Optax scalar | Optax compile | Optax jit 10^5 steps | Optax HLO ops |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    base: dict[str, float] = {}
    last: dict[str, float] = {}
    at_1000: dict[str, float] = {}
    runs: dict[int, Callable[[], float]] = {}  # each size's jitted evaluation, timed below in interleaved rounds
    for n in sizes:
        ours, theirs, total = join_pieces(n)
        x = jnp.linspace(0.0, total, 100_000, dtype=jnp.float32)
        rng = np.random.default_rng(0)
        probe = [float(v) for v in rng.uniform(0, total, 200)]
        s_ours = per_call(lambda o=ours, pr=probe: [o(s) for s in pr], 20) / len(probe)
        cells = {"scalar": s_ours}
        for label, fn in (("ours", ours), ("optax", theirs)):
            if label == "optax" and n > optax_max:
                continue
            start = time.perf_counter()
            compiled = jax.jit(fn).lower(x).compile()
            compile_s = time.perf_counter() - start
            compiled(x).block_until_ready()
            run_s = median_time(lambda c=compiled, x=x: c(x).block_until_ready(), 5)
            if label == "ours":
                runs[n] = lambda c=compiled, x=x: cpu_time(lambda: c(x).block_until_ready(), 5)
            ops = sum(1 for line in compiled.as_text().splitlines() if " = " in line)
            cells[f"{label}_compile"], cells[f"{label}_run"], cells[f"{label}_ops"] = compile_s, run_s, ops
        if n <= optax_max:
            cells["optax_scalar"] = per_call(lambda th=theirs, pr=probe: [th(s) for s in pr[:5]], 1, repeat=3) / 5
        if n == sizes[0]:
            base = dict(cells)
        if n == 1_000:
            at_1000 = dict(cells)
        last = dict(cells)

        def c(key: str, kind: str = "t", cells: dict[str, float] = cells) -> str:
            if key not in cells:
                return "skipped"
            return str(int(cells[key])) if kind == "n" else fmt(cells[key])

        rows.append(
            f"| {n} | {c('scalar')} | {c('ours_compile')} | {c('ours_run')} | {c('ours_ops', 'n')} "
            f"| {c('optax_scalar')} | {c('optax_compile')} | {c('optax_run')} | {c('optax_ops', 'n')} |"
        )
    rows.append("")
    if sizes[-1] > optax_max:
        rows.append(
            f"Optax is skipped above N={optax_max}: its graph grows by one `where` per piece "
            "(compile time grows linearly; minutes at N=10 000)."
        )
    growth = {k: last[k] / base[k] for k in ("scalar", "ours_compile", "ours_run", "ours_ops")}
    rows.append(
        f"lrsched growth from N={sizes[0]} to N={sizes[-1]} (target <= 3 on every row): "
        + ", ".join(f"{k.replace('ours_', '')} {v:.2f}x" for k, v in growth.items())
    )
    # The run's growth again in CPU time, the sizes taking turns (a busy machine slows them alike; time spent
    # descheduled does not count): per-round ratios.
    samples: dict[int, list[float]] = {n: [] for n in runs}
    for _ in range(5 if quick else 15):
        for n, timed in runs.items():
            samples[n].append(timed())
    ratios = sorted(b / a for a, b in zip(samples[sizes[0]], samples[sizes[-1]]))
    rows.append(
        f"Jitted evaluation of N={sizes[-1]} vs N={sizes[0]}, CPU time of {len(ratios)} interleaved rounds: "
        f"{statistics.median(ratios):.2f}x (median of the per-round ratios; range {ratios[0]:.2f}-{ratios[-1]:.2f})."
    )
    if at_1000 and "optax_compile" in at_1000:
        rows.append(
            f"At N=1000 lrsched compiles {at_1000['optax_compile'] / at_1000['ours_compile']:.0f}x faster "
            f"(target >= 30x) and evaluates {at_1000['optax_run'] / at_1000['ours_run']:.0f}x faster "
            "(target >= 50x) than Optax."
        )
    return rows


def mlp_section(quick: bool) -> list[str]:
    key = jax.random.PRNGKey(0)
    k1, k2, k3 = jax.random.split(key, 3)
    x = jax.random.normal(k1, (256, 64))
    y = jax.random.normal(k2, (256, 10))
    params = {
        "w1": jax.random.normal(k3, (64, 256)) * 0.05,
        "b1": jnp.zeros(256),
        "w2": jax.random.normal(k3, (256, 10)) * 0.05,
        "b2": jnp.zeros(10),
    }

    def loss_fn(p: Any) -> Any:
        h = jax.nn.relu(x @ p["w1"] + p["b1"])
        return jnp.mean((h @ p["w2"] + p["b2"] - y) ** 2)

    ours = L.warmup(L.cosine_decay(PEAK, DECAY, end_value=END), warmup_steps=WARMUP)
    theirs = optax.warmup_cosine_decay_schedule(0.0, PEAK, WARMUP, WARMUP + DECAY, END)
    runners = {}
    for label, sched in (("optax schedule", theirs), ("lrsched schedule", ours)):
        tx = optax.adamw(learning_rate=sched)

        @jax.jit
        def step(p: Any, s: Any, tx: Any = tx) -> Any:
            loss, g = jax.value_and_grad(loss_fn)(p)
            updates, s = tx.update(g, s, p)
            return optax.apply_updates(p, updates), s, loss

        p, s = params, tx.init(params)
        p, s, _ = step(p, s)
        jax.block_until_ready(p)
        n = 100 if quick else 500

        def run(p: Any = p, s: Any = s, step: Any = step, n: int = n) -> float:
            start = time.perf_counter()
            for _ in range(n):
                p, s, _ = step(p, s)
            jax.block_until_ready(p)
            return (time.perf_counter() - start) / n

        runners[label] = run
    # Interleave the two so that background load affects both alike.
    samples: dict[str, list[float]] = {k: [] for k in runners}
    for _ in range(5 if quick else 15):
        for label, run in runners.items():
            samples[label].append(run())
    results = {k: statistics.median(v) for k, v in samples.items()}
    a, b = results["optax schedule"], results["lrsched schedule"]
    return [
        "## 4. Jitted Optax AdamW step, MLP 64-256-10, batch 256",
        "",
        "| schedule | per step | ratio |",
        "|---|---|---|",
        f"| `optax.warmup_cosine_decay_schedule` | {fmt(a)} | 1.00 |",
        f"| **lrsched** `warmup(cosine_decay(...))` | {fmt(b)} | {b / a:.3f} |",
    ]


# One builder per schedule type: ``make(i, distinct)`` -> the i-th piece, its numbers varying with i when distinct.
_TYPES: dict[str, Callable[[int, bool], L.Schedule]] = {
    "constant": lambda i, d: L.constant(1.0 + 0.01 * i * d),
    "linear": lambda i, d: L.linear(1.0 + 0.01 * i * d, 0.1, 50),
    # power 2.5, not 2.0: NumPy squares for ``x ** 2.0`` only, so equal powers of 2.0 would time another formula
    "polynomial": lambda i, d: L.polynomial(1.0, 0.1, 50, power=2.5 + 0.01 * i * d),
    "step_decay": lambda i, d: L.step_decay(1.0, 10, 0.5 + 0.001 * i * d),
    "exponential_decay": lambda i, d: L.exponential_decay(1.0, 0.5 + 0.001 * i * d, 10, end_value=0.01),
    # exponent 1 skips the power: both joins use exponents != 1 so that they run the same formula
    "cosine_decay": lambda i, d: L.cosine_decay(1.0, 50, 0.1, exponent=1.5 + 0.01 * i * d),
    "cosine_restarts": lambda i, d: L.cosine_restarts(1.0, 7, 1.5 + 0.01 * i * d, decay=0.9),
    "one_cycle": lambda i, d: L.one_cycle(1.0, 60, 0.3 + 0.001 * i * d),
    "cycle": lambda i, d: L.cycle(L.linear(1.0, 0.0, 10), 10, decay=0.5 + 0.001 * i * d),
    "warmup": lambda i, d: L.warmup(L.cosine_decay(1.0 + 0.01 * i * d, 50), 5 + 0.01 * i * d),
}


def _join_of(make: Callable[[int, bool], L.Schedule], n: int, distinct: bool) -> L.Schedule:
    return L.join(tuple(make(i, distinct) for i in range(n)), tuple(100.0 * (i + 1) for i in range(n - 1)))


def _interleaved(a: Callable[[], Any], b: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median seconds of ``a`` and ``b``, timed in turns (``_common.rounds``) so that background load affects both
    alike."""
    a(), b()
    times = rounds({"a": functools.partial(median_time, a, 1), "b": functools.partial(median_time, b, 1)}, repeat)
    return statistics.median(times["a"]), statistics.median(times["b"])


def _compile_seconds(fn: Any, x: Any) -> float:
    start = time.perf_counter()
    jax.jit(fn).lower(x).compile()
    return time.perf_counter() - start


def _nested(depth: int, w: float) -> L.Schedule:
    s: L.Schedule = L.cosine_decay(1.0, 100)
    for level in range(depth):
        s = L.warmup(s, w + level)
    return s


def traps_section(quick: bool) -> list[str]:
    n = 200
    steps = np.linspace(0.0, 100.0 * n, 10**5)
    x = jnp.asarray(steps, dtype=jnp.float32)
    rows = [
        "## 5. Issue 10: distinct settings in joins, nested warmups, device scalars, torch.compile",
        "",
        f"### 5a. Join of N={n} pieces: distinct settings / equal settings (target <= 2 on both columns)",
        "",
        "| type | NumPy 10^5 steps, equal | distinct | ratio | jit compile, equal | distinct | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for name, make in _TYPES.items():
        same, diff = _join_of(make, n, False), _join_of(make, n, True)
        t_same, t_diff = _interleaved(lambda s=same: s(steps), lambda s=diff: s(steps), 5 if quick else 15)
        c_same, c_diff = _compile_seconds(same, x), _compile_seconds(diff, x)
        worst = max(worst, t_diff / t_same, c_diff / c_same)
        rows.append(
            f"| {name} | {fmt(t_same)} | {fmt(t_diff)} | {t_diff / t_same:.2f} "
            f"| {fmt(c_same)} | {fmt(c_diff)} | {c_diff / c_same:.2f} |"
        )
    rows += ["", f"Worst ratio: {worst:.2f} (target <= 2).", ""]

    depths = (1, 4, 8, 12) if quick else (1, 4, 8, 12, 16)
    rows += [
        "### 5b. Join of two nested-warmup pieces (stacked), 10^4 NumPy steps, by nesting depth (target: linear)",
        "",
        "| depth | time | time / depth |",
        "|---|---|---|",
    ]
    small = np.linspace(0.0, 400.0, 10**4)
    per_depth = []
    for depth in depths:
        s = L.join((_nested(depth, 1.0), _nested(depth, 2.0)), (200,))
        t = median_time(lambda s=s: s(small), 5)
        per_depth.append(t / depth)
        rows.append(f"| {depth} | {fmt(t)} | {fmt(t / depth)} |")
    rows += ["", f"time/depth at depth {depths[-1]} vs depth {depths[1]}: {per_depth[-1] / per_depth[1]:.2f}x.", ""]

    sched = L.warmup(L.cosine_decay(PEAK, DECAY, end_value=END), warmup_steps=WARMUP)
    opt = optax.warmup_cosine_decay_schedule(0.0, PEAK, WARMUP, WARMUP + DECAY, END)
    count = jnp.asarray(3_700, dtype=jnp.int32)  # like ``opt_state.count``
    assert abs(float(sched(count)) - float(opt(count))) < 1e-9
    reps = 50 if quick else 300
    t_ours = per_call(lambda: sched(count).block_until_ready(), reps)
    t_optax = per_call(lambda: opt(count).block_until_ready(), reps)
    rows += [
        "### 5c. Eager call on a JAX device scalar (`sched(opt_state.count)`), warmup+cosine",
        "",
        "| implementation | per call | ratio to Optax (target <= 1) |",
        "|---|---|---|",
        f"| `optax.warmup_cosine_decay_schedule` | {fmt(t_optax)} | 1.00 |",
        f"| **lrsched** | {fmt(t_ours)} | {t_ours / t_optax:.2f} |",
        "",
    ]

    t = torch.arange(0.0, 12_000.0, 12.0)
    t_eager = per_call(lambda: sched(t), 200 if quick else 1_000)
    compiled = torch.compile(lambda v: sched(v), fullgraph=True)
    start = time.perf_counter()
    diff = float((compiled(t) - sched(t)).abs().max() / sched(t).abs().max())
    compile_s = time.perf_counter() - start
    t_compiled = per_call(lambda: compiled(t), 200 if quick else 1_000)
    rows += [
        "### 5d. torch tensor step (1000 float32 steps, CPU)",
        "",
        "| call | per call |",
        "|---|---|",
        f"| eager | {fmt(t_eager)} |",
        f"| `torch.compile(fullgraph=True)`: compiles (target: yes) in {compile_s:.1f} s, "
        f"largest difference to eager {diff:.1e} of the peak | {fmt(t_compiled)} |",
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats and sizes (a smoke run)")
    parser.add_argument("--out", default=None, help="also write the report to this markdown file")
    parser.add_argument("--section", type=int, choices=(1, 2, 3, 4, 5), help="run one section only (default: all)")
    args = parser.parse_args()
    script = "bench_core.py" + (f" --section {args.section}" if args.section else "")
    command = command_line(script, args.quick, args.out)
    header = [
        "# lrsched core benchmark",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}, jax {jax.__version__}, optax {optax.__version__}, torch {torch.__version__}  ",
        "",
    ]
    lines = list(header)
    load_before = os.getloadavg()[0]
    for number, section in enumerate((scalar_section, numpy_section, join_section, mlp_section, traps_section), 1):
        if args.section not in (None, number):
            continue
        lines += [*section(args.quick), ""]
        print("\n".join(lines[-2:]), file=sys.stderr, flush=True)
    lines.insert(
        len(header) - 1,
        f"Load: 1-minute load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after the run, on "
        f"{os.cpu_count()} CPUs shared with other jobs: above {os.cpu_count()} absolute times are inflated and noisy; "
        "compare the ratios within this run (sections 4 and 5a time the two sides alternately).  ",
    )
    report = "\n".join(lines)
    publish(report, args.out)


if __name__ == "__main__":
    main()
