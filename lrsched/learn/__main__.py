"""``python -m lrsched.learn train --out policy.json``: meta-train a learned LR controller.

Example (the shipped default, ``lrsched/controllers/policies/default.json``, records its own command)::

    python -m lrsched.learn train --out policy.json --iterations 300 --seed 0 --plot curve.png
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from lrsched.learn.es import train


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
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
    tr.add_argument("--plot", default=None, help="PNG of the meta-objective curve (needs matplotlib)")
    tr.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    from lrsched.learn import save
    from lrsched.learn.tasks import default_tasks, toy_tasks

    tasks = toy_tasks(args.steps) if args.toy else default_tasks(args.steps, deep=args.deep)
    res = train(
        tasks,
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
        progress=not args.quiet,
    )
    command = "python -m lrsched.learn " + " ".join(shlex.quote(a) for a in argv)
    save(res, args.out, command)
    if not args.quiet:
        last = res.history[-1]["objective"]
        msg = f"\nwrote {args.out}: meta-objective {last:+.3f} vs the constant policy, {res.seconds:.0f} s"
        print(msg, file=sys.stderr)
    if args.plot:
        os.environ.setdefault("MPLBACKEND", "Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3))
        ax.plot([h["iteration"] for h in res.history], [h["objective"] for h in res.history], marker=".")
        ax.axhline(0.0, color="gray", lw=0.8)
        ax.set_xlabel("meta-iteration")
        ax.set_ylabel("validation score vs constant LR")
        ax.set_title("meta-training (lower is better)")
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
