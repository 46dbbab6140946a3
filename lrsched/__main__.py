"""``python -m lrsched`` / ``lrsched``: command-line entry point."""

from __future__ import annotations

import sys


def demo() -> int:
    """Print a table of standard schedules at a few steps."""
    import lrsched as L

    total = 1000
    table = {
        "constant": L.constant(1e-3),
        "warmup+cosine": L.warmup(L.cosine_decay(1e-3, total - 100, end_value=1e-5), warmup_steps=100),
        "one_cycle": L.one_cycle(1e-3, total),
        "wsd (1-sqrt)": L.wsd(1e-3, total, decay_steps=200, warmup_steps=100),
        "rex": L.rex(1e-3, total),
        "sgdr x2": L.cosine_restarts(1e-3, first_period=100, period_mult=2.0),
        "inverse_sqrt": L.inverse_sqrt(1e-3, warmup_steps=100),
        "step_decay": L.step_decay(1e-3, step_size=300, drop=0.5),
    }
    steps = [0, 50, 100, 250, 500, 750, 900, 999, 1500]
    width = max(map(len, table))
    print(f"{'step':<{width}} " + " ".join(f"{s:>9}" for s in steps))
    for name, sched in table.items():
        print(f"{name:<{width}} " + " ".join(f"{sched(s):9.2e}" for s in steps))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] == "demo":
        return demo()
    print(f"lrsched: unknown command {argv[0]!r}; try 'lrsched demo'", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
