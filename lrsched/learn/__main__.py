"""``python -m lrsched.learn train --out policy.json``: meta-train a learned LR controller.

Example (the shipped default, ``lrsched/controllers/policies/default.json``, records its own command)::

    python -m lrsched.learn train --out policy.json --iterations 300 --seed 0 --plot curve.png

The same command runs on every local device (the population is split over ``jax.devices()``), on several hosts
with ``--distributed`` (start it on every host; ``jax.distributed.initialize`` finds the cluster, or pass
``--coordinator``, ``--num-processes`` and ``--process-id``), trains on your own tasks with ``--tasks
module:function``, and survives interruptions with ``--checkpoint FILE --resume``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shlex
import sys
from typing import Any

from lrsched.learn.cache import default_cache_dir
from lrsched.learn.es import train


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m lrsched.learn", description="Meta-train a learned LR controller.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train on the built-in task distribution and write the policy as JSON")
    tr.add_argument("--out", required=True, help="output JSON file")
    tr.add_argument("--iterations", type=int, default=300)
    tr.add_argument("--pairs", type=int, default=16, help="antithetic pairs (= problems per family) per iteration")
    tr.add_argument("--sigma", type=float, default=0.1)
    tr.add_argument("--meta-lr", type=float, default=0.03)
    tr.add_argument("--hidden", type=int, default=16)
    tr.add_argument("--steps", type=int, default=256, help="updates per inner training run")
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--eval-every", type=int, default=10)
    tr.add_argument("--warmup", type=float, default=0.0, help="base schedule: linear warmup, fraction of the run")
    tr.add_argument("--anneal", type=float, default=0.0, help="base schedule: final linear anneal to 0, fraction")
    tr.add_argument("--auc", type=float, default=0.2, help="weight of the mean log loss over the whole run")
    tr.add_argument("--tail", type=float, default=0.1, help="final-loss term: mean over this fraction at the end")
    tr.add_argument("--calibrate", action="store_true", help="centre starting LRs on the base schedule's best LR")
    tr.add_argument("--deep", action="store_true", help="add the deep_mlp family (ReLU nets that stall)")
    tr.add_argument("--toy", action="store_true", help="the one-family toy distribution (seconds; for trials)")
    tr.add_argument(
        "--tasks",
        default=None,
        metavar="MODULE:NAME",
        help="your own tasks: a Task, list or dict of Tasks, or a function of --steps returning one "
        "(lrsched.learn.user_task), imported from MODULE (the current directory is on the path)",
    )
    tr.add_argument("--plot", default=None, help="PNG of the meta-objective curve (needs matplotlib)")
    par = tr.add_argument_group("devices, hosts, compilation cache and checkpoints")
    par.add_argument(
        "--devices", type=int, default=None, metavar="N", help="use the first N of jax.devices() (default: all)"
    )
    par.add_argument(
        "--distributed",
        action="store_true",
        help="several hosts: call jax.distributed.initialize() first (start the same command on every host; "
        "only process 0 writes files)",
    )
    par.add_argument("--coordinator", default=None, metavar="HOST:PORT", help="the coordinator (implies --distributed)")
    par.add_argument(
        "--num-processes", type=int, default=None, metavar="N", help="how many processes (with --coordinator)"
    )
    par.add_argument(
        "--process-id", type=int, default=None, metavar="I", help="this process's index (with --coordinator)"
    )
    par.add_argument(
        "--compile-cache",
        default=default_cache_dir(),
        metavar="DIR",
        help="JAX's persistent compilation cache: a rerun loads the compiled inner runs (default: %(default)s)",
    )
    par.add_argument("--no-compile-cache", action="store_true", help="compile afresh and write no cache")
    par.add_argument("--checkpoint", default=None, metavar="FILE", help="write the ES state (JSON) to FILE")
    par.add_argument("--checkpoint-every", type=int, default=10, metavar="N", help="iterations between checkpoints")
    par.add_argument(
        "--resume", action="store_true", help="continue from --checkpoint if it exists (the same settings)"
    )
    tr.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    return ap


def _tasks(args: argparse.Namespace) -> Any:
    from lrsched.learn.tasks import default_tasks, toy_tasks

    if args.tasks is None:
        return toy_tasks(args.steps) if args.toy else default_tasks(args.steps, deep=args.deep)
    module, sep, name = args.tasks.partition(":")
    if not sep or not module or not name:
        raise SystemExit(f"--tasks must be MODULE:NAME, got {args.tasks!r}")
    sys.path.insert(0, os.getcwd())
    obj = getattr(importlib.import_module(module), name)
    return obj(args.steps) if callable(obj) else obj


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    import jax

    if args.distributed or args.coordinator is not None:
        jax.distributed.initialize(args.coordinator, args.num_processes, args.process_id)
    from lrsched.learn import save

    devices = jax.devices()
    if args.devices is not None:
        if not 1 <= args.devices <= len(devices):
            raise SystemExit(f"--devices must be between 1 and {len(devices)} (jax.devices()), got {args.devices}")
        devices = devices[: args.devices]
    res = train(
        _tasks(args),
        iterations=args.iterations,
        pairs=args.pairs,
        sigma=args.sigma,
        meta_lr=args.meta_lr,
        hidden=args.hidden,
        seed=args.seed,
        eval_every=args.eval_every,
        warmup=args.warmup,
        anneal=args.anneal,
        auc=args.auc,
        tail=args.tail,
        calibrate=args.calibrate,
        devices=devices,
        compile_cache=None if args.no_compile_cache else args.compile_cache,
        checkpoint=args.checkpoint,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        progress=not args.quiet,
    )
    if jax.process_index() != 0:  # every process computed the same policy; one writes it
        return 0
    command = "python -m lrsched.learn " + " ".join(shlex.quote(a) for a in argv)
    save(res, args.out, command)
    if not args.quiet:
        last, st = res.history[-1]["objective"], res.stats
        print(
            f"\nwrote {args.out}: meta-objective {last:+.3f} vs the constant policy, {res.seconds:.0f} s "
            f"({st['setup_seconds']:.0f} s before the first iteration); {st['inner_updates_per_second']:,.0f} "
            f"inner updates/s on {st['devices']} {st['platform']} device(s) in {st['processes']} process(es)",
            file=sys.stderr,
        )
    if args.plot:
        _plot(res.history, args.plot)
    return 0


def _plot(history: list[dict[str, float]], path: str) -> None:
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot([h["iteration"] for h in history], [h["objective"] for h in history], marker=".")
    ax.axhline(0.0, color="gray", lw=0.8)
    ax.set_xlabel("meta-iteration")
    ax.set_ylabel("validation score vs constant LR")
    ax.set_title("meta-training (lower is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    raise SystemExit(main())
