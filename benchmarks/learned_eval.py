"""Held-out evaluation of the learned LR controller (issue 13) on the real-data tasks of the convergence suite.

Secondary and *contaminated* since the second evaluation: one design change of the controller was made
after seeing results on these tasks (the clean evaluation is ``benchmarks/learned_fresh.py``, pre-registered
in ``benchmarks/results/learned_protocol.md``). The policy was never trained on these tasks.
It runs on the digits tasks of ``benchmarks/convergence/tasks.py``
(softmax regression, MLP, NMF; the same seeds, minibatches, optimizer and training loop as the suite)
with its LR started at the tuned peak LR of the task's best schedule x {1/10, 1/3, 1, 3, 10}, untuned,
budget = the run's length. It is compared with the committed suite results (``runs.json``: the tuned best
schedule, GreedyLR with the reference rules and the robust setting) and, with ``--optax``, the
parameter-free optimizers of ``optax.contrib`` at their defaults. ``--overhead`` times a jitted Optax
step with the controller against a constant LR on the medium MLP of ``benchmarks/bench_adapters.py``.

Usage (repository root)::

    python benchmarks/learned_eval.py --optax --overhead --cnn   # writes benchmarks/results/learned_digits.md + PNG
    python benchmarks/learned_eval.py --policy policy.json     # a policy of your own
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import lrsched
from lrsched.controllers.learned import LearnedLR

HERE = os.path.dirname(os.path.abspath(__file__))
RUNS = os.path.join(HERE, "convergence", "results", "runs.json")
MULTS = (0.1, 1 / 3, 1.0, 3.0, 10.0)
JAX_TASKS = ("softmax", "mlp", "nmf")


def _suite(task: str) -> dict[str, Any]:
    """From the committed suite results: per scheduler, its tuned peak and final losses on the eval seeds."""
    with open(RUNS, encoding="utf-8") as fh:
        runs = [r for r in json.load(fh)["runs"] if r["part"] == "noisy" and r["task"] == task and r["stage"] == "eval"]
    out: dict[str, Any] = {}
    for r in runs:
        e = out.setdefault(r["scheduler"], {"peak": r["peak_lr"], "final": [], "lr_curve": r["lr_curve"]})
        e["final"].append(r["final_loss"])
    return out


def _inputs(task: Any, seeds: tuple[int, ...]) -> tuple[Any, Any, np.ndarray]:
    """The suite's inputs for ``seeds`` (initialisation from seed [1, s], minibatch order from [2, s])."""
    from benchmarks.convergence.tasks import batches
    from benchmarks.convergence.util import stack

    params = stack([task.init(np.random.default_rng([1, s])) for s in seeds])
    batch = np.stack([batches(np.random.default_rng([2, s]), 1200, task.steps) for s in seeds])
    return params, stack([task.data] * len(seeds)), batch


def run_learned(policy: LearnedLR, name: str) -> dict[str, Any]:
    """The policy on task ``name``: final full training losses and LR curves per starting multiplier."""
    from benchmarks.convergence.engine import runner
    from benchmarks.convergence.tasks import TASKS, project_nonneg

    task = TASKS[name]
    suite = _suite(name)
    best = min((s for s in suite if s in _TIMED), key=lambda s: statistics.median(suite[s]["final"]))
    peak = suite[best]["peak"]
    ctrl = dataclasses.replace(policy, budget=task.steps)
    seeds = task.eval_seeds
    params, data, batch = _inputs(task, seeds * len(MULTS))
    lr0 = np.repeat(np.asarray([peak * m for m in MULTS]), len(seeds))
    project = project_nonneg if name == "nmf" else None
    run = runner(task.loss, ctrl, task.optimizer, project, task.full_loss, task.eval_every)
    t0 = time.perf_counter()
    out = run(params, data, batch, lr0)
    final = np.asarray(out["eval"])[:, -1].reshape(len(MULTS), len(seeds))
    lr = np.asarray(out["lr"]).reshape(len(MULTS), len(seeds), -1)
    return {"best": best, "peak": peak, "final": final, "lr": lr, "suite": suite, "seconds": time.perf_counter() - t0}


def run_learned_cnn(policy: LearnedLR) -> dict[str, Any]:
    """The policy on the PyTorch CNN task (one run at a time, as the suite runs it), Adam's LR set each step."""
    from benchmarks.convergence.tasks import TASKS
    from benchmarks.convergence.torch_task import train_cnn
    from lrsched.adapters.torch import GreedyLRScheduler
    from lrsched.controllers.closure import control as LearnedScheduler  # the protocol closure

    task = TASKS["cnn"]
    suite = _suite("cnn")
    best = min((s for s in suite if s in _TIMED), key=lambda s: statistics.median(suite[s]["final"]))
    peak = suite[best]["peak"]
    ctrl = dataclasses.replace(policy, budget=task.steps)

    class Learned(GreedyLRScheduler):  # train_cnn feeds the loss to GreedyLRScheduler instances only
        def __init__(self, opt: Any, lr: float) -> None:
            self.opt, self.sched = opt, LearnedScheduler(ctrl, lr)
            self._set(self.sched.lr)  # the controller's first LR (its base schedule's warmup applies)

        def _set(self, lr: float) -> None:
            for group in self.opt.param_groups:
                group["lr"] = lr

        def step(self, value: Any = None) -> None:  # type: ignore[override]
            self._set(self.sched(value))

    t0 = time.perf_counter()
    final = np.zeros((len(MULTS), len(task.eval_seeds)))
    lr = np.zeros((len(MULTS), len(task.eval_seeds), task.steps))
    for i, m in enumerate(MULTS):
        for j, seed in enumerate(task.eval_seeds):
            out = train_cnn(lambda opt, m=m: Learned(opt, peak * m), seed, task.steps, task.eval_every)
            final[i, j], lr[i, j] = out["eval"][-1], out["lr"]
    return {"best": best, "peak": peak, "final": final, "lr": lr, "suite": suite, "seconds": time.perf_counter() - t0}


_TIMED = ("constant", "step", "exponential", "cosine", "warmup_cosine", "wsd", "one_cycle", "rex")
_PARAM_FREE = ("prodigy", "dadapt_adamw", "dog", "schedule_free_adamw", "mechanic", "cocob")


def _param_free(name: str) -> Any:
    import optax
    from optax import contrib

    if name == "mechanic":
        return contrib.mechanize(optax.adam(1e-3))
    if name == "schedule_free_adamw":
        return contrib.schedule_free_adamw()
    return getattr(contrib, name)()


def run_param_free(name: str) -> dict[str, np.ndarray]:
    """Each parameter-free optimizer at its defaults on task ``name`` (the suite's seeds and minibatches)."""
    import jax
    import optax
    from optax import contrib

    from benchmarks.convergence.tasks import TASKS, project_nonneg

    task = TASKS[name]
    params, data, batch = _inputs(task, task.eval_seeds)
    out = {}
    for opt_name in _PARAM_FREE:
        tx = _param_free(opt_name)

        def one(p: Any, d: Any, b: Any, tx: Any = tx, opt_name: str = opt_name) -> Any:
            def step(carry: Any, idx: Any) -> Any:
                p, s = carry
                loss, g = jax.value_and_grad(task.loss)(p, d, idx)
                u, s = tx.update(g, s, p, value=loss)
                p = optax.apply_updates(p, u)
                if name == "nmf":
                    p = project_nonneg(p)
                return (p, s), loss

            (p, s), _ = jax.lax.scan(step, (p, tx.init(p)), b)
            if opt_name == "schedule_free_adamw":
                p = contrib.schedule_free_eval_params(s, p)
            return task.full_loss(p, d)

        out[opt_name] = np.asarray(jax.jit(jax.vmap(one))(params, data, batch))
    return out


def overhead(policy: LearnedLR, repeats: int = 7, n: int = 100) -> tuple[float, float]:
    """Seconds per jitted Adam step on the medium MLP (784-512-512-10, batch 256): constant LR vs the controller."""
    import jax
    import jax.numpy as jnp
    import optax

    sys.path.insert(0, HERE)
    from bench_adapters import _mlp  # type: ignore[import-not-found]

    params, loss_fn = _mlp((784, 512, 512, 10), 256)
    adam = optax.scale_by_adam()
    ctrl = dataclasses.replace(policy, budget=10_000)

    def make(controlled: bool) -> Any:
        @jax.jit
        def step(p: Any, s: Any, c: Any) -> Any:
            loss, g = jax.value_and_grad(loss_fn)(p)
            d, s = adam.update(g, s, p)
            lr = c.lr if controlled else 1e-3
            p = jax.tree_util.tree_map(lambda a, b: a - lr * b, p, d)
            return p, s, ctrl.update(c, loss) if controlled else c

        return step

    def timed(controlled: bool) -> float:
        step = make(controlled)
        p, s, c = params, adam.init(params), ctrl.init(1e-3, like=jnp.zeros((), jnp.float32))
        jax.block_until_ready(step(p, s, c))
        t0 = time.perf_counter()
        for _ in range(n):
            p, s, c = step(p, s, c)
        jax.block_until_ready(p)
        return (time.perf_counter() - t0) / n

    base, ours = [], []
    for _ in range(repeats):  # interleaved, medians
        base.append(timed(False))
        ours.append(timed(True))
    return statistics.median(base), statistics.median(ours)


def torch_overhead(policy: LearnedLR, repeats: int = 7, n: int = 50) -> tuple[float, float, float]:
    """Seconds per torch Adam step on the medium MLP: constant LR, with ``lrsched.learned`` setting the LR
    after each step (``lr = sched(loss.item())``), and one closure call alone."""
    import torch

    from lrsched.controllers.closure import control as LearnedScheduler  # the protocol closure

    torch.manual_seed(0)
    ctrl = dataclasses.replace(policy, budget=10_000)
    x, y = torch.randn(256, 784), torch.arange(256) % 10

    def timed(controlled: bool) -> float:
        model = torch.nn.Sequential(
            torch.nn.Linear(784, 512),
            torch.nn.ReLU(),
            torch.nn.Linear(512, 512),
            torch.nn.ReLU(),
            torch.nn.Linear(512, 10),
        )
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        sched = LearnedScheduler(ctrl, 1e-3)
        t0 = time.perf_counter()
        for _ in range(n):
            loss = torch.nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            value = loss.item()  # a training loop logs it anyway
            if controlled:
                lr = sched(value)
                for g in opt.param_groups:
                    g["lr"] = lr
        return (time.perf_counter() - t0) / n

    base, ours = [], []
    for _ in range(repeats):
        base.append(timed(False))
        ours.append(timed(True))
    sched = LearnedScheduler(ctrl, 1e-3)
    t0 = time.perf_counter()
    for i in range(2000):
        sched(1.0 / (1 + i))
    return statistics.median(base), statistics.median(ours), (time.perf_counter() - t0) / 2000


def _g(x: float) -> str:
    return f"{x:.3g}"


def lr_panels(panels: dict[str, list[tuple[Any, Any, dict[str, Any]]]], path: str, width: float = 4.5) -> None:
    """One log-scale LR panel per task: ``panels[task] = [(steps or None, lrs, plot keywords), ...]``."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), 3.2))
    for ax, (name, lines) in zip(np.atleast_1d(axes), panels.items()):
        for x, y, style in lines:
            ax.plot(*((y,) if x is None else (x, y)), **style)
        ax.set_yscale("log")
        ax.set_title(name)
        ax.set_xlabel("step")
    np.atleast_1d(axes)[0].set_ylabel("LR (median over seeds)")
    np.atleast_1d(axes)[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def start_lines(
    label: str, starts: list[tuple[float, Any]], best: str, steps: Any, curve: Any
) -> list[tuple[Any, Any, dict[str, Any]]]:
    """A panel's lines for :func:`lr_panels`: the controller's median LR per start multiplier (``starts``:
    ``(multiplier, LRs)``, legend ``label``), then the tuned best schedule ``best``'s LR ``curve`` dashed."""
    lines = [(None, lrs, {"lw": 1, "label": f"{label}, start x{k:.2g}"}) for k, lrs in starts]
    lines.append((steps, curve, {"ls": "--", "color": "k", "lw": 1.5, "label": f"tuned {best}"}))
    return lines


def _plot(results: dict[str, Any], path: str) -> None:
    panels = {}
    for name, r in results.items():
        starts = [(m, np.median(r["lr"][i], axis=0)) for i, m in enumerate(MULTS)]
        curve = r["suite"][r["best"]]["lr_curve"]  # thinned in runs.json
        steps = np.linspace(0, r["lr"].shape[-1], len(curve), endpoint=False)
        panels[name] = start_lines("learned", starts, r["best"], steps, curve)
    lr_panels(panels, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--policy", default=None, help="policy JSON (default: the shipped default)")
    ap.add_argument("--optax", action="store_true", help="also run the optax.contrib parameter-free optimizers")
    ap.add_argument("--overhead", action="store_true", help="also time the jitted Optax step")
    ap.add_argument("--cnn", action="store_true", help="also run the PyTorch CNN task (one run at a time)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "learned_digits.md"))
    args = ap.parse_args(argv)
    if args.policy:
        with open(args.policy, encoding="utf-8") as fh:
            policy = LearnedLR.from_config(json.load(fh)["config"])
    else:
        policy = lrsched.LearnedLR.default()
    t_start = time.perf_counter()
    results = {name: run_learned(policy, name) for name in JAX_TASKS}
    if args.cnn:
        results["cnn"] = run_learned_cnn(policy)
    pf = {name: run_param_free(name) for name in JAX_TASKS} if args.optax else {}
    lines = _report(results, pf, args)
    if args.overhead:
        base, ours = overhead(policy)
        lines += [
            "### Per-step overhead (jitted Optax step, medium MLP 784-512-512-10, batch 256, Adam)",
            "",
            "| constant LR | learned controller | overhead |",
            "|---:|---:|---:|",
            f"| {base * 1e3:.2f} ms | {ours * 1e3:.2f} ms | {100 * (ours / base - 1):+.1f}% |",
            "",
            "Medians of 7 interleaved repeats of 100 steps; the controller's update is traced into the same jitted",
            "step as the training update (as `lrsched.adapters.optax` would), on a shared 2-core CPU.",
            "",
        ]
        tb, to, call = torch_overhead(policy)
        lines += [
            "### Per-step overhead (torch, same MLP, Adam; `lr = lrsched.learned(...)(loss.item())` after each step)",
            "",
            "| constant LR | learned controller | overhead | one closure call |",
            "|---:|---:|---:|---:|",
            f"| {tb * 1e3:.2f} ms | {to * 1e3:.2f} ms | {100 * (to / tb - 1):+.1f}% | {call * 1e6:.1f} µs |",
            "",
            "The closure runs the same `policy_step` on Python floats (about 180 multiply-adds); the share of a",
            "training step is the closure call over the step time, the step-time difference is mostly noise here.",
            "",
        ]
    lines += _notes(args)
    lines.append(f"Wall time {time.perf_counter() - t_start:.0f} s.")
    png = os.path.splitext(args.out)[0] + "_lr.png"
    _plot(results, png)
    lines += ["", f"![LR trajectories]({os.path.basename(png)})", ""]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))
    return 0


def _notes(args: argparse.Namespace) -> list[str]:
    """The policy's meta-training cost, from its file (the reading of the numbers is in ``learned.md``)."""
    path = args.policy or os.path.join(HERE, "..", "lrsched", "controllers", "policies", "default.json")
    with open(path, encoding="utf-8") as fh:
        meta = json.load(fh).get("meta", {})
    st = meta.get("settings", {})
    return [
        f"Meta-training: `{meta.get('command')}` ran {st.get('iterations')} ES iterations x "
        f"{st.get('pairs')} antithetic pairs x {len(st.get('tasks', []))} task families in {meta.get('seconds')} s "
        "on a shared 2-core CPU. Overhead: the controller's update is traced into the jitted step; on this "
        "loaded machine the difference is within timing noise (rerun on a quiet machine for the 2% target).",
        "",
    ]


def _report(results: dict[str, Any], pf: dict[str, Any], args: argparse.Namespace) -> list[str]:
    flags = [f" --{flag}" for flag in ("optax", "overhead", "cnn") if getattr(args, flag)]
    cmd = "python benchmarks/learned_eval.py" + "".join(flags)
    if args.policy:
        cmd += f" --policy {args.policy}"
    lines = [
        "## Digits tasks of the convergence suite (secondary: contaminated as held-out)",
        "",
        f"Generated by `{cmd}`. Policy: {'`' + args.policy + '`' if args.policy else 'the shipped default'}"
        " (`lrsched/controllers/policies/default.json`), never trained on these tasks; but one design change",
        "of the controller (first edition) was made after seeing results on them: not clean held-out tasks.",
        "Tasks, seeds (8 evaluation seeds), minibatches, optimizers and training loop: `benchmarks/convergence`",
        "(digits; 1,200 steps). The learned controller starts at the tuned peak LR of the task's best schedule",
        "x {1/10, 1/3, 1, 3, 10}, budget = 1,200 steps. Baselines (tuned best schedule, GreedyLR reference rules",
        "`greedy` and robust setting `greedy_robust`, each at its own tuned LR) are read from the committed",
        "`benchmarks/convergence/results/runs.json` (same seeds). Final loss = full training loss after the run.",
        "The PyTorch CNN task (`--cnn`) runs through `train_cnn` of the suite, 4 seeds x 400 steps, the controller",
        "setting Adam's LR after each step; the parameter-free optimizers (`--optax`) run at their optax defaults",
        "on the three JAX tasks only.",
        "",
        "### Median final training loss",
        "",
        "| task | tuned best schedule | learned, all 40 runs (ratio to best) | learned x0.1 | x1/3 | x1 | x3 | x10 "
        "| greedy | greedy_robust | within 10% of best? |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    summary = []
    for name, r in results.items():
        suite = r["suite"]
        best = statistics.median(suite[r["best"]]["final"])
        pooled = float(np.median(r["final"]))
        per = [float(np.median(r["final"][i])) for i in range(len(MULTS))]
        ok = pooled <= 1.1 * best
        summary.append(ok)
        lines.append(
            f"| {name} | {r['best']} @ {_g(r['peak'])}: {_g(best)} | {_g(pooled)} ({pooled / best:.2f}x) | "
            + " | ".join(_g(p) for p in per)
            + f" | {_g(statistics.median(suite['greedy']['final']))} | "
            f"{_g(statistics.median(suite['greedy_robust']['final']))} | {'yes' if ok else 'no'} |"
        )
    lines += [
        "",
        f"Target (median within 10% of the tuned best on >= 3 of 4 tasks): met on {sum(summary)} of "
        f"{len(summary)} tasks run{'' if 'cnn' in results else ' (CNN not run)'}.",
        "",
    ]
    if pf:
        lines += [
            "### Parameter-free optimizers (optax.contrib, defaults; median final loss over 8 seeds)",
            "",
            "| task | learned (pooled) | greedy | greedy_robust | "
            + " | ".join(_PARAM_FREE)
            + " | learned beats all? |",
            "|---|---:|---:|---:|" + "---:|" * len(_PARAM_FREE) + "---|",
        ]
        for name, r in results.items():
            if name not in pf:
                continue
            pooled = float(np.median(r["final"]))
            others = [statistics.median(r["suite"][g]["final"]) for g in ("greedy", "greedy_robust")]
            others += [float(np.median(pf[name][o])) for o in _PARAM_FREE]
            beats = all(pooled < o or (np.isfinite(pooled) and not np.isfinite(o)) for o in others)
            lines.append(
                f"| {name} | {_g(pooled)} | " + " | ".join(_g(o) for o in others) + f" | {'yes' if beats else 'no'} |"
            )
        lines.append("")
    return lines


if __name__ == "__main__":
    raise SystemExit(main())
