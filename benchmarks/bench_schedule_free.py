"""The per-step cost of the schedule-free tournament's optimizer outside its rounds (issue 21's overhead figure).

Run: ``python benchmarks/bench_schedule_free.py [--quick] [--out benchmarks/results/schedule_free_step.md]``

After its rounds (whose updates the budget already counts) ``lrsched.tools.free_tournament`` trains the
schedule-free form of the user's optimizer at a constant LR: no controller, no signal. Its per-step cost is the
schedule-free optimizer's over the plain one's, measured on the medium MLP of ``bench_controllers.py``
(784-512-512-10, batch 256), in interleaved rounds:

1. one jitted Optax step: ``optax.adam(lr)`` vs ``lrsched.adapters.optax.schedule_free(base, lr)`` (what the method
   trains) with Adam's direction without momentum as ``base``, two ways: ``optax.scale_by_adam(b1=0.0)`` (which
   still keeps a first-moment buffer, equal to the gradient) and ``optax.scale_by_rms(decay=0.999, eps=1e-8,
   eps_in_sqrt=False, bias_correction=True)`` (the same direction, without it), and
   ``optax.contrib.schedule_free_adamw(lr)`` (Optax's own, for reference);
2. one torch step: ``torch.optim.Adam(foreach=True)`` vs ``schedulefree.AdamWScheduleFree`` (the authors' package,
   what the method trains in torch).

Speed is measured here, never asserted in tests.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from _common import header, publish  # benchmarks/ is on sys.path
from bench_adapters import _mlp, _optax_steps, interleaved
from bench_controllers import PEAK, ROUNDS, _overhead_table, _torch_mlp, _torch_steps


def optax_section(quick: bool) -> list[str]:
    import optax

    from lrsched.adapters.optax import schedule_free

    params, loss_fn = _mlp((784, 512, 512, 10), 256)
    n = 10 if quick else 30
    rms = optax.scale_by_rms(decay=0.999, eps=1e-8, eps_in_sqrt=False, bias_correction=True)
    txs = {
        "constant": optax.adam(PEAK),
        "`schedule_free(optax.scale_by_adam(b1=0.0), lr)`": schedule_free(optax.scale_by_adam(b1=0.0), PEAK),
        "`schedule_free(optax.scale_by_rms(...), lr)`": schedule_free(rms, PEAK),
        "`optax.contrib.schedule_free_adamw(lr)`": optax.contrib.schedule_free_adamw(PEAK),
    }
    fns = {name: _optax_steps(optax.with_extra_args_support(tx), params, loss_fn, n) for name, tx in txs.items()}
    return _overhead_table(
        "## 1. One jitted Optax step, medium MLP (784-512-512-10, batch 256)",
        "The constant row is `optax.adam(lr)`; the others are schedule-free forms of Adam at a constant LR: "
        "`lrsched.adapters.optax.schedule_free` over Adam's direction without momentum, as "
        "`optax.scale_by_adam(b1=0.0)` (its first-moment buffer, equal to the gradient, is still kept and updated) "
        "and as `optax.scale_by_rms(decay=0.999, eps=1e-8, eps_in_sqrt=False, bias_correction=True)` (the same "
        "direction to float rounding, without that buffer), and Optax's own `schedule_free_adamw`.",
        interleaved(fns, ROUNDS[quick], stat=list),
    )


def torch_section(quick: bool, threads: int | None) -> list[str]:
    import schedulefree
    import torch

    model, x, y = _torch_mlp(threads)
    n = 10 if quick else 30

    def steps(make: Callable[[Any], Any]) -> Callable[[], float]:
        opt = make(model.parameters())
        if hasattr(opt, "train"):
            opt.train()
        return _torch_steps(model, x, y, opt, None, n)

    fns = {
        "constant": steps(lambda p: torch.optim.Adam(p, lr=PEAK, foreach=True)),
        "`schedulefree.AdamWScheduleFree(lr, warmup_steps=0)`": steps(
            lambda p: schedulefree.AdamWScheduleFree(p, lr=PEAK, warmup_steps=0, foreach=True)
        ),
    }
    return _overhead_table(
        "## 2. One torch step, the same MLP (eager" + (f", {threads} torch threads)" if threads else ")"),
        "The constant row is `torch.optim.Adam(foreach=True)`; the other is the authors' schedule-free AdamW (the "
        "optimizer `lrsched.adapters.torch.free_tournament` drives), its `foreach` kernels too.",
        interleaved(fns, ROUNDS[quick], stat=list),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    parser.add_argument("--out", default=None, help="also write the report to this markdown file")
    parser.add_argument("--torch-threads", type=int, default=None, help="torch's threads (default: all cores)")
    args = parser.parse_args()
    import importlib.metadata
    import types

    import jax
    import torch

    schedulefree = types.SimpleNamespace(
        __name__="schedulefree", __version__=importlib.metadata.version("schedulefree")
    )
    script = "bench_schedule_free.py" + (f" --torch-threads {args.torch_threads}" if args.torch_threads else "")
    lines = [
        *header("The schedule-free tournament's step", script, args.quick, args.out, jax, torch, schedulefree),
        *optax_section(args.quick),
        *torch_section(args.quick, args.torch_threads),
    ]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
