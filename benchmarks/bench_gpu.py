"""GPU benchmark: a training step with lrsched schedules and every controller vs the frameworks' own, on torch and JAX.

Run: ``python benchmarks/bench_gpu.py [--quick] [--device cuda|cpu] [--out benchmarks/results/gpu.md]``

AdamW on an MLP 1024-4096-4096-1024, batch 1024, one jitted/eager step per iteration; per framework:

1. schedules and plateau controllers: the native cosine (torch ``CosineAnnealingLR``,
   ``optax.cosine_decay_schedule``) vs lrsched's ``cosine_decay`` (``schedule_lr``, ``as_optax_schedule``), and
   the native plateau scheduler (torch ``ReduceLROnPlateau.step(float(loss))``, which syncs the host every step;
   ``optax.contrib.reduce_on_plateau``) vs lrsched's GreedyLR (``GreedyLRScheduler.step(loss_tensor)`` with a
   tensor LR: no sync; ``scale_by_greedy_lr``);
2. every registered controller (``lrsched.controllers.registry()``, built by :func:`build`): torch
   ``ControllerScheduler(opt, c).step(loss_tensor)`` on Adam with a tensor LR, and the jitted Optax step
   ``controlled(optax.scale_by_adam(), c)``, each against the same step at a constant LR (``optax.adam(lr)``);
   a controller an adapter refuses is listed with the adapter's message. :data:`FLOORS` holds hand-fused steps
   (a controller fused into the optimizer by hand) where one exists, the floor a controller's cost is read against.

Ratios are medians of the per-round ratios of interleaved rounds, in one run. Without a GPU it prints a message and
exits with status 0; ``--device cpu`` runs the whole benchmark on the CPU with a small MLP (a smoke run: the
numbers say nothing about a GPU). Speed is never asserted in tests.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import functools
import itertools
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from _common import command_line, publish, rounds  # benchmarks/ is on sys.path

LR, STEPS = 1e-3, 10_000  # the constant LR and the horizon the schedules and controllers are built for


class Setup(NamedTuple):
    """Where and what one run trains: the device, the MLP's layer sizes and the batch."""

    device: str  # "cuda" (or "gpu" for JAX), or "cpu" for a smoke run
    sizes: tuple[int, ...]
    batch: int


GPU = Setup("cuda", (1024, 4096, 4096, 1024), 1024)
SMOKE = Setup("cpu", (64, 128, 128, 16), 32)

#: Settings per controller name where the generic ones of :func:`build` do not suit a 10,000-step AdamW run.
KNOBS: dict[str, dict[str, Any]] = {
    "hypergradient": {"beta": 1e-7},
    "abel": {"interval": 100},
    "greedy": {"patience": 10, "window": 10},
}

#: Hand-fused steps by controller name (the controller's rule fused into the optimizer by hand, e.g. an Adam-HD
#: that keeps the direction in the optimizer state and takes ``h = g . d`` in the same pass): ``name ->
#: {"torch": make(setup, model) -> step(), "jax": make(setup) -> optax transformation}``. A controller with an
#: entry gets a "hand-fused floor" cell next to lrsched's. The hand-fused Adam-HD of ``bench_controllers.py`` is
#: the first candidate.
FLOORS: dict[str, dict[str, Callable[..., Any]]] = {}


def build(name: str, cls: type) -> Any:
    """A controller of the registered class ``cls`` for a run of ``STEPS`` updates at ``LR``: a schedule-steering
    wrapper gets ``cosine_decay(LR, STEPS)`` and a GreedyLR multiplier; otherwise ``cls.default(...)`` where the
    class has one, else ``cls(...)``, with ``init_lr``, ``budget``/``total_steps`` and :data:`KNOBS` where the class
    has those fields."""
    import lrsched

    fields = {f.name for f in dataclasses.fields(cls)}
    if {"base", "controller"} <= fields:  # on_schedule, greedy_on: lr = base(t) * g_t
        inner = lrsched.GreedyLR(init_lr=1.0, patience=10, window=10, min_lr=0.1, max_lr=3.0)
        return cls(base=lrsched.cosine_decay(LR, STEPS), controller=inner)
    knobs = {k: v for k, v in KNOBS.get(name, {}).items() if k in fields}
    knobs.update({k: v for k, v in (("init_lr", LR), ("budget", STEPS), ("total_steps", STEPS)) if k in fields})
    default = getattr(cls, "default", None)
    return default(**knobs) if callable(default) else cls(**knobs)


def controllers() -> dict[str, Any]:
    """Every registered controller by name, or the reason it could not be built (a message)."""
    import lrsched

    out: dict[str, Any] = {}
    for name, cls in sorted(lrsched.controllers.registry().items()):
        try:
            out[name] = build(name, cls)
        except (TypeError, ValueError) as error:
            out[name] = f"not built: {error}"
    return out


def _add_controllers(
    framework: str,
    variants: dict[str, Callable[[int], float]],
    make: Callable[[Any], Callable[[int], float]],
    make_floor: Callable[[Callable[..., Any]], Callable[[int], float]],
) -> tuple[dict[str, Any], dict[str, str]]:
    """Adds a variant per registered controller (``make(controller)``) and per hand-fused floor of ``framework``
    (``make_floor(FLOORS[name][framework])``) to ``variants``; returns the controllers and the refusals by name."""
    cs, refused = controllers(), {}
    for name, c in cs.items():
        if isinstance(c, str):
            refused[name] = c
            continue
        try:
            variants[name] = make(c)
        except (TypeError, ValueError) as error:  # the adapter refuses it (e.g. a look-ahead it cannot run)
            refused[name] = f"refused: {error}"
            continue
        floor = FLOORS.get(name, {}).get(framework)
        if floor is not None:
            variants[f"floor {name}"] = make_floor(floor)
    return cs, refused


def _rounds(variants: dict[str, Callable[[int], float]], n: int, repeat: int) -> dict[str, list[float]]:
    """Seconds per step of each variant (``run(n)`` times ``n`` steps) in ``repeat`` rounds (``_common.rounds``)."""
    return rounds({k: functools.partial(_per_step, run, n) for k, run in variants.items()}, repeat)


def _per_step(run: Callable[[int], float], n: int) -> float:
    return run(n) / n


def _ratio(times: dict[str, list[float]], a: str, b: str) -> float:
    """Median over rounds of ``a``'s time / ``b``'s time in the same round."""
    return statistics.median(x / y for x, y in zip(times[a], times[b]))


def _pair_rows(section: str, pairs: list[tuple[str, str]], times: dict[str, list[float]]) -> list[str]:
    rows = []
    for native, ours in pairs:
        rows.append(
            f"| {section} | {native} | {statistics.median(times[native]) * 1e3:.3f} | {ours} "
            f"| {statistics.median(times[ours]) * 1e3:.3f} | {_ratio(times, ours, native):.3f} |"
        )
    return rows


def _controller_rows(
    section: str, base: str, cs: dict[str, Any], refused: dict[str, str], times: dict[str, list[float]]
) -> list[str]:
    rows = []
    for name in cs:
        if name in refused:
            rows.append(f"| {section} | {name} | {refused[name]} | | |")
            continue
        floor = f"floor {name}"
        cell = f"{_ratio(times, floor, base) - 1:+.1%}" if floor in times else "—"
        rows.append(
            f"| {section} | {name} | {statistics.median(times[name]) * 1e3:.3f} "
            f"| {_ratio(times, name, base) - 1:+.1%} | {cell} |"
        )
    return rows


# -- torch ---------------------------------------------------------------------------------------------------------
def torch_section(setup: Setup, n: int, repeat: int) -> tuple[list[str], list[str]]:
    """(the schedule/plateau rows, the controller rows)."""
    import torch

    import lrsched
    from lrsched.adapters.torch import ControllerScheduler, GreedyLRScheduler, schedule_lr

    dev = torch.device(setup.device)
    cuda = setup.device == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if not cuda:
        torch.set_num_threads(1)  # a smoke run on a shared CPU: one thread, steadier
    torch.manual_seed(0)
    layers = [torch.nn.Linear(a, b) for a, b in itertools.pairwise(setup.sizes)]
    x, y = torch.randn(setup.batch, setup.sizes[0], device=dev), torch.randn(setup.batch, setup.sizes[-1], device=dev)

    def model() -> Any:
        modules = [m for layer in copy.deepcopy(layers) for m in (layer, torch.nn.ReLU())][:-1]
        return torch.nn.Sequential(*modules).to(dev)  # the same initial weights in every variant

    def runner(step: Callable[[], None]) -> Callable[[int], float]:
        def run(steps: int) -> float:
            sync()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            sync()
            return time.perf_counter() - start

        run(3)
        return run

    def make(opt_class: Any, kind: str, controller: Any = None) -> Callable[[int], float]:
        m = model()
        tensor_lr = kind in ("lrsched GreedyLR", "constant", "controller")  # stays on the device: no host sync
        opt = opt_class(m.parameters(), lr=torch.tensor(LR, device=dev) if tensor_lr else LR,
                        capturable=tensor_lr and cuda)  # fmt: skip
        sched: Any = {
            "torch CosineAnnealingLR": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(opt, STEPS),
            "lrsched cosine_decay": lambda: schedule_lr(opt, lrsched.cosine_decay(LR, STEPS)),
            "torch ReduceLROnPlateau": lambda: torch.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=10),
            "lrsched GreedyLR": lambda: GreedyLRScheduler(opt, patience=10, window=10),
            "constant": lambda: None,
            "controller": lambda: ControllerScheduler(opt, controller),
        }[kind]()

        def step() -> None:
            loss = torch.nn.functional.mse_loss(m(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if kind == "torch ReduceLROnPlateau":
                sched.step(float(loss.detach()))  # torch reads the value on the host
            elif kind in ("lrsched GreedyLR", "controller"):
                sched.step(loss)  # stays on the device
            elif sched is not None:
                sched.step()

        return runner(step)

    kinds = ["torch CosineAnnealingLR", "lrsched cosine_decay", "torch ReduceLROnPlateau", "lrsched GreedyLR"]
    variants = {k: make(torch.optim.AdamW, k) for k in kinds}
    base = "Adam, constant LR"
    variants[base] = make(torch.optim.Adam, "constant")
    cs, refused = _add_controllers(
        "torch", variants, lambda c: make(torch.optim.Adam, "controller", c), lambda f: runner(f(setup, model()))
    )
    times = _rounds(variants, n, repeat)
    pairs = _pair_rows("torch", [(kinds[0], kinds[1]), (kinds[2], kinds[3])], times)
    return pairs, _controller_rows("torch", base, cs, refused, times)


# -- JAX -----------------------------------------------------------------------------------------------------------
def jax_section(setup: Setup, n: int, repeat: int) -> tuple[list[str], list[str]]:
    """(the schedule/plateau rows, the controller rows)."""
    import jax
    import jax.numpy as jnp
    import optax

    import lrsched
    from lrsched.adapters.optax import as_optax_schedule, controlled, scale_by_greedy_lr

    sizes = setup.sizes
    keys = jax.random.split(jax.random.PRNGKey(0), len(sizes) + 1)
    params = [(jax.random.normal(k, (a, b)) / a**0.5, jnp.zeros(b)) for k, a, b in zip(keys, sizes[:-1], sizes[1:])]
    x = jax.random.normal(keys[-1], (setup.batch, sizes[0]))
    y = jnp.zeros((setup.batch, sizes[-1]))

    def loss_fn(p: Any) -> Any:
        h = x
        for i, (w, b) in enumerate(p):
            h = h @ w + b
            h = jax.nn.relu(h) if i < len(p) - 1 else h
        return jnp.mean((h - y) ** 2)

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

        run(3)  # compiles (a controller the adapter refuses raises here)
        return run

    opts = {
        "optax cosine_decay_schedule": optax.adamw(optax.cosine_decay_schedule(LR, STEPS)),
        "lrsched cosine_decay": optax.adamw(as_optax_schedule(lrsched.cosine_decay(LR, STEPS))),
        "optax reduce_on_plateau": optax.chain(optax.adamw(LR), optax.contrib.reduce_on_plateau(patience=10)),
        "lrsched GreedyLR": optax.chain(
            optax.scale_by_adam(), optax.add_decayed_weights(1e-4),
            scale_by_greedy_lr(lrsched.GreedyLR(init_lr=LR, patience=10, window=10)),
        ),
    }  # fmt: skip
    variants = {k: make(o) for k, o in opts.items()}
    base = "optax.adam, constant LR"
    variants[base] = make(optax.with_extra_args_support(optax.adam(LR)))
    cs, refused = _add_controllers(
        "jax", variants, lambda c: make(controlled(optax.scale_by_adam(), c)), lambda f: make(f(setup))
    )
    times = _rounds(variants, n, repeat)
    kinds = list(opts)
    pairs = _pair_rows("JAX", [(kinds[0], kinds[1]), (kinds[2], kinds[3])], times)
    return pairs, _controller_rows("JAX", base, cs, refused, times)


# -- the run -------------------------------------------------------------------------------------------------------
def _gpus() -> tuple[str | None, str | None]:
    """The GPU torch and JAX see (a name), or ``None`` each."""
    torch_gpu = jax_gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            torch_gpu = torch.cuda.get_device_name(0)
    except ImportError:
        pass
    try:
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        jax_gpu = gpus[0].device_kind if gpus else None
    except (ImportError, RuntimeError):
        pass
    return torch_gpu, jax_gpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and repeats (a smoke run)")
    parser.add_argument(
        "--device", choices=("cuda", "cpu"), default="cuda",
        help="cuda (default: the GPU; exits with a message when there is none) or cpu (a smoke run, small MLP)",
    )  # fmt: skip
    parser.add_argument("--out", help="also write the report to this markdown file")
    args = parser.parse_args(argv)
    if args.device == "cpu":
        os.environ["JAX_PLATFORMS"] = "cpu"  # before JAX is imported
        setup, torch_gpu, jax_gpu = SMOKE, "CPU (smoke run)", "CPU (smoke run)"
    else:
        setup = GPU
        torch_gpu, jax_gpu = _gpus()
        if torch_gpu is None and jax_gpu is None:
            print(
                "bench_gpu: no GPU found (torch.cuda and JAX see none); nothing to measure. --device cpu: a smoke run."
            )
            return 0
    n, repeat = (5 if args.device == "cpu" else 20, 3) if args.quick else (200, 7)
    script = "bench_gpu.py" + (" --device cpu" if args.device == "cpu" else "")
    pairs: list[str] = []
    rows: list[str] = []
    if torch_gpu is not None:
        a, b = torch_section(setup, n, repeat)
        pairs, rows = pairs + a, rows + b
    if jax_gpu is not None:
        a, b = jax_section(setup, n, repeat)
        pairs, rows = pairs + a, rows + b
    sizes = "-".join(map(str, setup.sizes))
    lines = [
        "# GPU benchmark",
        "",
        f"Command: `{command_line(script, args.quick, args.out)}`",
        "",
        f"Python {platform.python_version()}; torch device: {torch_gpu or 'none'}; JAX device: {jax_gpu or 'none'}. "
        f"MLP {sizes}, batch {setup.batch}; {n} steps per round, medians of {repeat} interleaved rounds.",
        "",
        "## 1. Schedules and plateau controllers",
        "",
        "| framework | native | ms/step | lrsched | ms/step | lrsched / native |",
        "|---|---|---:|---|---:|---:|",
        *pairs,
        "",
        "## 2. Every registered controller",
        "",
        "torch: `Adam` with a tensor LR (capturable on CUDA) and `ControllerScheduler(opt, c).step(loss_tensor)`; "
        "JAX: `controlled(optax.scale_by_adam(), c)` in the jitted step. Overhead: against the same step at a "
        "constant LR (median of the per-round ratios).",
        "",
        "| framework | controller | ms/step | overhead | hand-fused floor |",
        "|---|---|---:|---:|---:|",
        *rows,
    ]
    publish("\n".join(lines) + "\n", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
