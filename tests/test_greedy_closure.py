"""GreedyLR's stateful closure: checkpoints at any step, pickling, and the invariants (hypothesis)."""

from __future__ import annotations

import json
import math
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_greedy_streams import core_lrs, streams

import lrsched

RESUME_SETTINGS = [
    dict(init_lr=0.1, window=5, patience=2, cooldown=2, warmup=1, min_lr=0.02, max_lr=0.3, reset_start=2),
    dict(init_lr=(0.1, 0.05), min_lr=(0.01, 0.04), patience=1, mode="max", nonfinite="skip", window=3),
    dict(init_lr=0.3, increase=False, track_best_during_wait=True, patience=0, cooldown=1),
]


def _stream(n: int = 150) -> list[float]:
    values = streams(n)["noisy"] + streams(n)["plateau"]
    values[17], values[201] = math.nan, math.inf
    return values


@pytest.mark.parametrize("index", range(len(RESUME_SETTINGS)))
def test_restored_run_continues_identically_at_random_cut_points(index: int) -> None:
    g = lrsched.GreedyLR(**RESUME_SETTINGS[index])
    values = _stream()
    expected = lrsched.greedy(g)
    full = [expected(v) for v in values]
    rng = random.Random(index)
    cuts = sorted(rng.sample(range(1, len(values)), 12))
    sched, out, start = lrsched.greedy(g), [], 0
    for cut in [*cuts, len(values)]:
        out += [sched(v) for v in values[start:cut]]
        saved = json.dumps({"config": sched.to_config(), "state": sched.state_dict()}, allow_nan=False)
        loaded = json.loads(saved)
        sched = lrsched.greedy(lrsched.from_config(loaded["config"]))
        sched.load_state_dict(loaded["state"])
        start = cut
    assert out == full
    assert sched.state == expected.state


def _fed(n: int) -> tuple[lrsched.GreedyLR, list[float], lrsched.GreedyScheduler]:
    """The first of ``RESUME_SETTINGS``, :func:`_stream`, and their closure after the stream's first ``n`` values."""
    g = lrsched.GreedyLR(**RESUME_SETTINGS[0])
    values = _stream()
    sched = lrsched.greedy(g)
    for v in values[:n]:
        sched(v)
    return g, values, sched


def test_pickle_round_trip_continues_identically() -> None:
    _, values, sched = _fed(100)
    clone = pickle.loads(pickle.dumps(sched))
    assert [clone(v) for v in values[100:]] == [sched(v) for v in values[100:]]


def test_closure_state_feeds_the_pure_core_and_back() -> None:
    g, values, sched = _fed(120)
    state = sched.state
    for v in values[120:200]:
        state = g.update(state, v)
    sched2 = lrsched.greedy(g)
    sched2.load_state(state)
    for v in values[120:200]:
        sched(v)
    assert sched2.state == sched.state
    assert [sched2(v) for v in values[200:]] == core_lrs(g, values)[200:]


def test_load_state_dict_rejects_foreign_data() -> None:
    sched = lrsched.greedy(init_lr=0.1, window=3)
    with pytest.raises(ValueError, match="not a GreedyScheduler state_dict"):
        sched.load_state_dict({"lr": 0.1})
    other = lrsched.greedy(init_lr=0.1, window=5).state_dict()
    with pytest.raises(ValueError, match=r"state\.window holds 5 values, expected 3"):
        sched.load_state_dict(other)
    data = sched.state_dict()
    del data["best"]
    with pytest.raises(ValueError, match="missing best"):
        sched.load_state_dict(data)


def test_state_dict_is_strict_json_before_the_first_value() -> None:
    sched = lrsched.greedy(init_lr=0.1, mode="max")
    data = json.loads(json.dumps(sched.state_dict(), allow_nan=False))
    assert data["best"] == "-inf"  # strict JSON: non-finite numbers as strings
    sched.load_state_dict(data)
    assert sched.state.best == -math.inf


values_st = st.lists(
    st.one_of(
        st.floats(min_value=-10.0, max_value=10.0, allow_nan=False),
        st.sampled_from([math.nan, math.inf, -math.inf, 1.0, 1.0]),
    ),
    min_size=1,
    max_size=80,
)


@st.composite
def settings_st(draw: st.DrawFn) -> lrsched.GreedyLR:
    lo = draw(st.sampled_from([0.0, 1e-3, 0.05]))
    hi = draw(st.sampled_from([None, 0.2, 1.0]))
    return lrsched.GreedyLR(
        init_lr=draw(st.sampled_from([lo, 0.1] if hi is None or hi >= 0.1 else [lo])) or 0.1,
        factor=draw(st.sampled_from([0.5, 0.9, 0.95])),
        patience=draw(st.integers(0, 3)),
        threshold=draw(st.sampled_from([0.0, 1e-4, 0.1])),
        threshold_mode=draw(st.sampled_from(["rel", "abs"])),
        mode=draw(st.sampled_from(["min", "max"])),
        window=draw(st.integers(1, 4)),
        cooldown=draw(st.integers(0, 2)),
        warmup=draw(st.integers(0, 2)),
        min_lr=lo,
        max_lr=hi,
        eps=draw(st.sampled_from([0.0, 1e-8])),
        reset_start=draw(st.sampled_from([None, 1, 3])),
        increase=draw(st.booleans()),
        nonfinite=draw(st.sampled_from(["bad", "skip"])),
        track_best_during_wait=draw(st.booleans()),
    )


@settings(max_examples=200)
@given(settings_st(), values_st)
def test_lr_stays_in_bounds_and_moves_only_by_the_factor(g: lrsched.GreedyLR, values: list[float]) -> None:
    hi = math.inf if g.max_lr is None else g.max_lr
    sched = lrsched.greedy(g)
    state, old = g.init(), g.init_lr
    for v in values:
        lr = sched(v)
        state = g.update(state, v)
        assert state.lr == lr  # the closure and the pure core agree
        assert g.min_lr <= lr <= hi
        moves = {old, max(old * g.factor, g.min_lr), g.init_lr}
        if g.increase:
            moves.add(min(old / g.factor, hi))
        assert lr in moves
        assert all(math.isfinite(w) for w in state.window)
        assert math.isfinite(state.best) or state.best == (math.inf if g.mode == "min" else -math.inf)
        old = lr


@given(values_st)
def test_plateau_mode_never_raises_the_lr(values: list[float]) -> None:
    sched = lrsched.greedy(lrsched.reduce_on_plateau(init_lr=1.0, patience=0, factor=0.5))
    lrs = [1.0] + [sched(v) for v in values]
    assert lrs == sorted(lrs, reverse=True)


def _least_squares(steps: int, sched: lrsched.GreedyScheduler | None) -> tuple[float, float]:
    """Gradient descent on a noiseless least-squares problem; returns (final loss, largest LR used)."""
    rng = random.Random(0)
    xs = [[rng.gauss(0, 1) for _ in range(3)] for _ in range(64)]
    ys = [1.5 * x[0] - 2.0 * x[1] + 0.5 * x[2] for x in xs]
    w, lr, top, loss = [0.0, 0.0, 0.0], 1e-3, 1e-3, math.inf
    for _ in range(steps):
        residuals = [sum(a * b for a, b in zip(x, w)) - y for x, y in zip(xs, ys)]
        loss = sum(r * r for r in residuals) / len(xs)
        grad = [2 * sum(r * x[j] for r, x in zip(residuals, xs)) / len(xs) for j in range(3)]
        w = [wj - lr * gj for wj, gj in zip(w, grad)]
        lr = sched(loss) if sched is not None else lr
        top = max(top, lr)
    return loss, top


def test_a_training_loop_learns_with_greedy_lr() -> None:
    """From a too-small LR, GreedyLR raises the LR (within max_lr) and learns where a constant LR barely moves."""
    greedy_loss, top = _least_squares(60, lrsched.greedy(init_lr=1e-3, patience=2, factor=0.7, max_lr=0.5))
    constant_loss, _ = _least_squares(60, None)
    assert 0.1 < top <= 0.5
    assert greedy_loss < 1e-6 * constant_loss


def test_a_version_0_1_state_dict_loads():
    # Written by lrsched 0.1 before any value: best was null (strict JSON).
    old = {
        "version": 1,
        "lr": 0.1,
        "best": None,
        "good": 0,
        "bad": 0,
        "cooldown": 0,
        "warmup": 0,
        "reset_left": 0,
        "window": [],
        "count": 0,
        "pos": 0,
        "step": 0,
        "init_lr": 0.1,
    }
    a = lrsched.greedy(init_lr=0.1, patience=0, factor=0.5)
    b = lrsched.greedy(init_lr=0.1, patience=0, factor=0.5)
    b.load_state_dict(old)
    assert [a(x) for x in (3.0, 2.0, 2.5)] == [b(x) for x in (3.0, 2.0, 2.5)]
