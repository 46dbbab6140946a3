"""GreedyLR's smoothing window: a running sum, summed afresh once per window, equal on every backend.

The window's sum (``state.total``) is updated by adding the new value and subtracting the one it replaces; it is
summed afresh from the values held (``window_total``) when the ring wraps and when the value leaving outweighs it.
These tests check that this gives the reference's LR sequence on a long noisy stream, that the fresh sums happen,
that a spike leaves no trace, that every backend computes the same total bit for bit, and that a state written
before the field existed (lrsched 0.2, 0.3) loads and continues.
"""

from __future__ import annotations

import itertools
import math
import random

import pytest
from test_greedy_streams import core_lrs, reference_lrs

import lrsched
from lrsched.greedy.core import window_total

KNOBS = dict(init_lr=0.1, patience=0, min_lr=1e-6, max_lr=1.0)


def noisy(n: int, seed: int = 0) -> list[float]:
    """A slowly falling loss with noise, as a training loop reports it per update."""
    rng = random.Random(seed)
    return [1.0 / (1.0 + 0.001 * i) + rng.gauss(0.0, 0.02) for i in range(n)]


def spiky(n: int) -> list[float]:
    """A noisy loss with huge spikes and non-finite values at a few updates."""
    values = noisy(n, seed=1)
    for i, spike in ((7, 1e17), (31, -3e15), (44, math.nan), (58, 1e300), (59, math.inf), (90, 2e16)):
        if i < n:
            values[i] = spike
    return values


@pytest.mark.parametrize("window", [1, 10, 50, 500])
def test_twenty_thousand_noisy_updates_give_the_reference_lrs(window: int) -> None:
    """The closure and the pure core give transformers' GreedyLR's LR sequence on 20,000 noisy updates."""
    pytest.importorskip("transformers")
    g = lrsched.GreedyLR(**KNOBS, window=window)
    values = noisy(20_000)
    expected = reference_lrs(g, values)
    sched = lrsched.greedy(g)
    got = []
    for i, v in enumerate(values):
        got.append(sched(v))
        state = sched.state
        if window > 1 and state.pos == 0:  # the ring wrapped: the total is the fresh sum of the values held
            assert state.total == window_total(state.window), i
        if window > 1 and i % 997 == 0:  # between wraps, within rounding of the exact sum
            assert abs(state.total - math.fsum(state.window)) <= 1e-12 * max(1.0, abs(math.fsum(state.window)))
    assert got == expected
    assert core_lrs(g, values) == expected
    moves = [b / a for a, b in itertools.pairwise(got) if a != b]
    assert sum(m > 1 for m in moves) > 20 and sum(m < 1 for m in moves) > 20  # the sequence has real decisions


@pytest.mark.parametrize("window", [3, 10, 70])
def test_a_spike_leaves_no_trace_once_it_has_left_the_window(window: int) -> None:
    g = lrsched.GreedyLR(init_lr=0.1, window=window, patience=1)
    values = spiky(200)
    sched, last_spike = lrsched.greedy(g), max(i for i, v in enumerate(values) if abs(v) > 1e10)
    for i, v in enumerate(values):
        sched(v)
        state = sched.state
        if i >= last_spike + window:  # every value held is an ordinary loss: the sum is theirs, within rounding
            exact = math.fsum(state.window)
            assert abs(state.total - exact) <= 1e-13 * abs(exact), (i, state.total, exact)


def _states_agree(a: lrsched.GreedyState, b: lrsched.GreedyState) -> None:
    for name, x, y in zip(a._fields, a, b):
        x = tuple(float(v) for v in x) if isinstance(x, tuple) else float(x)
        y = tuple(float(v) for v in y) if isinstance(y, tuple) else float(y)
        assert x == y or (x != x and y != y), name  # bit for bit (NaN never stored, inf equal)


@pytest.mark.parametrize("window", [3, 10, 70])
def test_every_backend_keeps_the_same_total_bit_for_bit(window: int) -> None:
    """Python (pure and compiled), jitted JAX scans and torch states in float64: equal states after every update."""
    g = lrsched.GreedyLR(init_lr=0.1, window=window, patience=1, reset_start=2, min_lr=0.05, factor=0.5)
    values = spiky(160)
    pure, sched, states = g.init(), lrsched.greedy(g), []
    for v in values:
        pure = g.update(pure, v)
        sched(v)
        _states_agree(pure, sched.state)
        states.append(pure)
    assert any(s.total != math.fsum(s.window) for s in states)  # a running sum, not a fresh one each update
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    with jax.enable_x64(True):

        def body(s: lrsched.GreedyState, v: object) -> tuple[lrsched.GreedyState, lrsched.GreedyState]:
            s = g.update(s, v)
            return s, s

        _, scanned = jax.jit(lambda s, xs: jax.lax.scan(body, s, xs))(
            g.init(like=jnp.zeros((), jnp.float64)), jnp.asarray(values)
        )
        for i, expected in enumerate(states):
            got = type(expected)._make(
                tuple(x[i]) if isinstance(x, tuple) else (tuple(x[i].tolist()) if x.ndim > 1 else x[i]) for x in scanned
            )
            _states_agree(expected, got)
    torch = pytest.importorskip("torch")
    state = g.init(like=torch.zeros((), dtype=torch.float64))
    for v, expected in zip(values, states):
        state = g.update(state, torch.tensor(v, dtype=torch.float64))
        _states_agree(expected, state._replace(window=tuple(state.window.tolist())))


@pytest.mark.parametrize("window", [1, 10, 70])
def test_a_state_dict_without_a_total_loads_and_continues(window: int) -> None:
    """lrsched 0.2 and 0.3 kept no running sum (they summed the window afresh): their state_dicts load, with the
    total the fresh sum of the values held, and the run continues with the same LRs."""
    g = lrsched.GreedyLR(init_lr=0.1, window=window, patience=2)
    values = noisy(600, seed=3)
    sched = lrsched.greedy(g)
    for v in values[:137]:
        sched(v)
    old = sched.state_dict()
    del old["total"]
    resumed = lrsched.greedy(g)
    resumed.load_state_dict(old)
    state = resumed.state
    assert state.total == (window_total(state.window) if window > 1 else ())
    assert [resumed(v) for v in values[137:]] == [sched(v) for v in values[137:]]
