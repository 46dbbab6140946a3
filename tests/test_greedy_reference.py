"""GreedyLR equals ``transformers.optimization.GreedyLR`` step for step, and its deliberate deviations."""

from __future__ import annotations

import importlib
import math

import pytest
from test_greedy_streams import closure_lrs, core_lrs, reference_lrs, streams

import lrsched

pytest.importorskip("transformers")

SETTINGS = {
    "abs": dict(init_lr=0.1, threshold=1e-6, threshold_mode="abs"),
    "rel_default": dict(init_lr=0.1),
    "smooth": dict(init_lr=0.1, window=5, patience=2),
    "smooth_long": dict(init_lr=0.1, window=50, patience=3, threshold=1e-6, threshold_mode="abs"),
    "cooldown_warmup": dict(init_lr=0.1, patience=2, cooldown=3, warmup=2, min_lr=0.01, max_lr=0.5),
    "max_mode": dict(init_lr=0.1, mode="max", patience=1),
    "max_mode_rel_smooth": dict(init_lr=0.1, mode="max", patience=1, window=3, cooldown=1),
    "both_bounds": dict(init_lr=0.1, patience=0, factor=0.5, min_lr=0.02, max_lr=0.3),
    "reset": dict(init_lr=0.1, patience=0, factor=0.5, min_lr=0.05, reset_start=3),
    "reset_smooth_cooldown": dict(
        init_lr=0.1, patience=1, factor=0.5, min_lr=0.05, reset_start=2, window=4, cooldown=2
    ),
    "eps_blocks_small_changes": dict(init_lr=1e-7, patience=0, factor=0.9, eps=1e-8),
    "groups": dict(init_lr=(0.1, 0.2), min_lr=(0.01, 0.1), max_lr=(0.3, 0.25), patience=1, reset_start=2),
    "groups_smooth": dict(init_lr=(0.1, 0.05, 0.3), min_lr=0.04, max_lr=(0.2, 0.2, 0.6), patience=2, window=3),
}


@pytest.mark.parametrize("setting", sorted(SETTINGS))
@pytest.mark.parametrize("stream", sorted(streams()))
def test_core_and_closure_equal_the_reference(setting: str, stream: str) -> None:
    g = lrsched.GreedyLR(**SETTINGS[setting])
    values = streams()[stream]
    expected = reference_lrs(g, values)
    assert core_lrs(g, values) == expected
    assert closure_lrs(g, values) == expected


def test_the_matrix_reaches_every_rule() -> None:
    """The streams above do hit both bounds, resets, increases and decreases (else equality proves little)."""
    values = streams()["monotone"] + streams()["plateau"]
    lrs = core_lrs(lrsched.GreedyLR(**SETTINGS["both_bounds"]), values)
    assert 0.02 in lrs and 0.3 in lrs
    g = lrsched.GreedyLR(**SETTINGS["reset"])
    lrs = core_lrs(g, streams()["plateau"])
    assert lrs.count(0.1) > 1 and 0.05 in lrs  # back to init_lr after sitting at min_lr


def test_negative_metric_rel_threshold_reference_accepts_worse_values() -> None:
    """The reference's ``best * (1 - threshold)`` is below-best-is-better only for best > 0."""
    # A reward-like 'min' stream: best -10, then slightly *worse* values -9.5.
    values = [-10.0] + [-9.5] * 6
    g = lrsched.GreedyLR(init_lr=0.1, patience=1, factor=0.5, threshold=0.1, threshold_mode="rel")
    ref = reference_lrs(g, values)
    ours = core_lrs(g, values)
    assert ref[-1] > 0.1  # the reference counts -9.5 as an improvement over -10 and raises the LR
    assert ours[-1] < 0.1  # ours counts it as worse and lowers the LR
    assert closure_lrs(g, values) == ours
    # For positive values (losses) both agree exactly.
    positive = [10.0] + [9.5] * 6
    assert core_lrs(g, positive) == reference_lrs(g, positive)


def test_negative_metric_rel_threshold_in_max_mode() -> None:
    g = lrsched.GreedyLR(init_lr=0.1, patience=0, factor=0.5, threshold=0.1, mode="max")
    # best -10; -9.5 is better by 5% of |best|, below the 10% threshold: no improvement for us.
    ours = core_lrs(g, [-10.0, -9.5])
    assert ours == [0.2, 0.1]
    assert reference_lrs(g, [-10.0, -9.5]) == [0.2, 0.4]  # reference: -9.5 > -10 * 1.1


def test_nan_poisons_the_reference_window_but_not_ours() -> None:
    values = [1.0, 0.9, float("nan")] + [0.8 - 0.01 * i for i in range(30)]
    g = lrsched.GreedyLR(init_lr=0.1, patience=1, factor=0.5, window=3, min_lr=1e-4)
    ref = reference_lrs(g, values)
    ours = core_lrs(g, values)
    # The reference's running sum stays NaN: every later step is a non-improvement, the LR only falls.
    assert ref[-1] == pytest.approx(1e-4)
    # Ours skips the NaN in the window; the steady decrease after it raises the LR again.
    assert ours[-1] > 0.1
    sched = lrsched.greedy(g)
    assert [sched(v) for v in values] == ours
    assert all(math.isfinite(x) for x in sched.state.window)


def test_an_initial_lr_outside_the_bounds_reference_accepts_ours_refuses_and_says_so() -> None:
    """The reference starts at 0.5 above max_lr=0.3 and at 0.001 below min_lr=0.01 (values written from its run:
    it never raises 0.5, and skips the 'decrease' from 0.004, since min_lr is above it); ours refuses both at
    construction, and the module's deviations list says so."""
    g = lrsched.GreedyLR(init_lr=0.2, patience=0, factor=0.5, min_lr=0.01, max_lr=0.3)
    values = [1.0, 0.9, 0.95, 1.0, 0.8]
    assert reference_lrs(g, values, lrs=0.5) == [0.5, 0.5, 0.25, 0.125, 0.25]
    assert reference_lrs(g, values, lrs=0.001) == [0.002, 0.004, 0.004, 0.004, 0.008]
    for lr in (0.5, 0.001):
        with pytest.raises(ValueError, match=r"init_lr must lie in the controller's LR bounds \[0.01, 0.3\]"):
            lrsched.GreedyLR(init_lr=lr, patience=0, factor=0.5, min_lr=0.01, max_lr=0.3)
    doc = importlib.import_module("lrsched.greedy").__doc__ or ""
    deviations = doc.split("Deliberate deviations")[1].split("Exactness")[0]
    assert "init_lr" in deviations and "[min_lr, max_lr]" in deviations
