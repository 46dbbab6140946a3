"""The helpers both pre-registered held-out evaluations share (``benchmarks/held_out.py``), on fake runs."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any

from _benchmarks import use_benchmarks

use_benchmarks("jax")


def _fake_records(loss: Any) -> tuple[Any, list[dict[str, list[float]]]]:
    """A ``records`` function whose runs end at ``loss(lr, seed)`` (``None``: diverged), and the plans it got."""
    plans: list[dict[str, list[float]]] = []

    def records(task: Any, seeds: tuple[int, ...], plan: dict[str, list[float]]) -> list[dict[str, Any]]:
        plans.append(plan)
        return [
            {"scheduler": n, "peak_lr": lr, "seed": s, "final_loss": loss(lr, s)}
            for n, lrs in plan.items()
            for lr in lrs
            for s in seeds
        ]

    return records, plans


def test_tune_widens_until_the_choice_is_interior() -> None:
    from benchmarks import held_out
    from benchmarks.convergence.tuning import best_lrs

    task = SimpleNamespace(lr_grid=(0.01, 0.03), tune_seeds=(0, 1))
    records, plans = _fake_records(lambda lr, s: None if lr > 0.5 else (math.log10(lr) - math.log10(0.3)) ** 2)
    recs = held_out.tune(task, ["constant"], records)
    assert plans[0] == {"constant": [0.01, 0.03]}
    assert [p["constant"] for p in plans[1:]] == [[0.1], [0.3], [1.0]]  # up the ladder until 0.3 is interior
    assert best_lrs(recs) == {"constant": 0.3}


def test_run_started_tags_each_run_with_its_multiplier() -> None:
    from benchmarks import held_out

    task = SimpleNamespace(eval_seeds=(0, 1))
    records, plans = _fake_records(lambda lr, s: lr)
    recs = held_out.run_started(task, records, {"a": 0.3, "b": 0.07}, ("b",))
    assert plans == [{"a": [0.3], "b": [held_out.round_lr(0.07 * k) for k in held_out.MULTS]}]
    assert plans[0]["b"][1] == 0.0233333  # six significant digits
    by_run = {(r["scheduler"], r["peak_lr"], r["seed"]): r["mult"] for r in recs}
    assert by_run[("a", 0.3, 1)] == 1.0
    assert {by_run[("b", lr, 0)] for lr in plans[0]["b"]} == set(held_out.MULTS)


def test_medians_count_a_diverged_run_as_infinite() -> None:
    from benchmarks import held_out

    runs = [
        {"scheduler": "x", "mult": 1.0, "final_loss": 1.0},
        {"scheduler": "x", "mult": 1.0, "final_loss": None},
        {"scheduler": "x", "mult": 3.0, "final_loss": 0.5},
        {"scheduler": "y", "mult": 1.0, "final_loss": 2.0},
        {"scheduler": "y", "mult": 1.0, "final_loss": 2.0},
    ]
    assert held_out.median_loss(runs, "x", 1.0, "final_loss") == math.inf
    assert held_out.median_loss(runs, "x", None, "final_loss") == 1.0
    assert held_out.best_schedule(runs, ("x", "y"), "final_loss") == "y"
    assert held_out.fmt(math.inf) == "diverged" and held_out.fmt(0.0123456) == "0.0123"
